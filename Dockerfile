# One image for every Payspec service; docker-compose.yml picks the service with SERVICE.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY generated ./generated
COPY services ./services
ENV NODE_ENV=production HOST=0.0.0.0
USER node
CMD ["sh", "-c", "exec node --import tsx services/${SERVICE}/main.ts"]
