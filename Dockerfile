# One image for every Payspec service; docker-compose.yml picks the service with SERVICE.
#
# build:   every dependency (dev ones too), the console's browser bundle, and the TypeScript of
#          services/ and generated/ compiled to JavaScript next to it (esbuild, file by file: what
#          tsx does when `make run` loads a file, done once here — the tsconfig has
#          isolatedModules and verbatimModuleSyntax, so each file compiles on its own).
# runtime: production dependencies only and plain `node`, no TypeScript loader.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The web console's pages, bundled into services/console/public/dist/ (the console serves them;
# in production it does not build them itself: esbuild is a dev dependency).
RUN npx tsx services/console/build.ts
# Not the tests, nor the console's browser code (web/, bundled above). --target: import attributes
# (`with { type: 'json' }`) are dropped below Node 20.10; 20.19 is package.json's engines floor.
RUN npx esbuild $(find services generated -name '*.ts' ! -name '*.d.ts' ! -name '*.test.ts' ! -path '*/test-support/*' ! -path 'services/console/web/*') \
      --outdir=. --outbase=. --platform=node --format=esm --target=node20.19 --log-level=warning

FROM node:20-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/generated ./generated
# services/ as built: the compiled .js beside each .ts, and the console's bundle.
COPY --from=build /app/services ./services
# Where services write files by default (the voucher service's SMS outbox, the mailer's .eml
# files without SMTP_URL): the node user's own.
RUN mkdir -p .data && chown node:node .data
USER node
CMD ["sh", "-c", "exec node services/${SERVICE}/main.js"]
