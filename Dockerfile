# syntax=docker/dockerfile:1
# The service image: `node dist/main.js` as PID 1 (it drains on SIGTERM), as the unprivileged `node` user.
# Node.js 24 is an LTS line, maintained until 2028-04-30; `--build-arg NODE_VERSION=26` builds on the next one.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Compile, then drop the dev dependencies (TypeScript, tsx, Jest…) from what the runtime stage copies.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-trixie-slim
WORKDIR /app
# NODE_ENV=production: config/production.json, and the production-only checks (no guest broker user).
# Source maps turn stack traces in the logs back into src/… line numbers.
ENV NODE_ENV=production NODE_OPTIONS=--enable-source-maps
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
COPY bin ./bin
# `order-timeout db migrate`, `order-timeout topology check`… for `docker compose exec` and one-off jobs.
RUN ln -s /app/bin/order-timeout.js /usr/local/bin/order-timeout
USER node
EXPOSE 3000
# Liveness only (/healthz); slim images have no curl, node's fetch does. /readyz is for load balancers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
