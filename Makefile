# Payspec — every task a developer or CI runs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NPX := npx --no-install

.PHONY: help install chromium generate postman check-generated lint typecheck test test-only run infra infra-down up down token bench parked replay-parked

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed ## Install dependencies (npm ci) when package-lock.json changed

generate: install ## Lint the specs and regenerate generated/ from specs/*.yaml (and README.md's diagram and events table)
	$(NPX) tsx tools/codegen/generate.ts
	$(NPX) tsx tools/docs/readme-tables.ts

check-generated: install ## Fail when generated/, postman/ or README.md's generated parts differ from what the specs produce
	$(NPX) tsx tools/codegen/generate.ts --check
	$(NPX) tsx tools/postman/build.ts --check
	$(NPX) tsx tools/docs/readme-tables.ts --check

postman: install ## Write the Postman collection and environment (postman/) from the specs
	$(NPX) tsx tools/postman/build.ts

lint: install ## ESLint on the code, Redocly + Payspec rules on the specs
	$(NPX) eslint .
	$(NPX) tsx tools/codegen/generate.ts --lint-only

typecheck: install ## tsc --noEmit over services, tools and generated code, and over the console's browser code
	$(NPX) tsc --noEmit -p tsconfig.json
	$(NPX) tsc --noEmit -p services/console/web/tsconfig.json

infra: install ## Start FerretDB and RabbitMQ unless MONGO_URL / AMQP_URL point elsewhere
	bash tools/infra/up.sh

infra-down: ## Stop the FerretDB that `make infra` started
	bash tools/infra/down.sh

chromium: ## Install Debian's chromium for the console's browser tests, when missing
	bash tools/testing/install-chromium.sh

test: check-generated lint typecheck infra chromium ## Every check and every test (what CI runs)
	$(NPX) mocha

test-only: infra ## Only the mocha tests: all, or FILE=services/x/y.test.ts (several: FILE="a b"); ARGS="--grep Contract"
	$(NPX) mocha $(if $(FILE),--config tools/dev/mocharc-files.mjs $(FILE)) $(ARGS)

run: infra ## Start the whole platform (all services) on local infrastructure
	$(NPX) tsx tools/dev/platform.ts

# make up / make down need a Docker engine and Compose v2; without them, say so instead of a docker error.
DOCKER_COMPOSE_READY = docker info >/dev/null 2>&1 || { echo "make $@: no Docker engine is reachable (docker info failed): make up and make down need one. Start Docker, or run the platform without it: make run" >&2; exit 1; }; \
	docker compose version >/dev/null 2>&1 || { echo "make $@: Docker Compose v2 (docker compose) is not installed" >&2; exit 1; }

up: ## The whole platform in Docker Compose (MongoDB replica set, RabbitMQ, mailpit), built and started in the background
	@$(DOCKER_COMPOSE_READY)
	docker compose up --build -d

down: ## Stop and remove what make up started (volumes are kept)
	@$(DOCKER_COMPOSE_READY)
	docker compose down

token: install ## Print a dev bearer token: make token ROLE=operator|customer|merchant SUBJECT=…
	@$(NPX) tsx tools/dev/token.ts

bench: infra ## Benchmarks (not tests): every scenario in one run, then rewrites docs/benchmarks.md and docs/benchmarks-scale.svg (ARGS="--only scale", "--quick")
	$(NPX) tsx tools/bench/all.ts $(ARGS)

parked: install ## List parked events of a service: make parked SERVICE=billing [ID=<message id>]
	@$(NPX) tsx tools/ops/parked-events.ts $(if $(ID),show --id $(ID),list) --service $(SERVICE)

replay-parked: install ## Replay parked events into their service's queue: make replay-parked SERVICE=billing ID=<message id>|all
	@$(NPX) tsx tools/ops/parked-events.ts replay --service $(SERVICE) --id $(ID)
