FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly; no build step to keep in sync.
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json knexfile.ts rabbitmq-definitions.json ./
COPY config ./config
COPY src ./src
COPY bin ./bin
USER node
EXPOSE 3000
CMD ["npx", "--no-install", "tsx", "src/main.ts"]
