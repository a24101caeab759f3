# Countersign image: one image, three entry commands.
#
#   API (default)   node dist/src/main.js
#   worker          node dist/src/worker.js          (docker run … node dist/src/worker.js)
#   migrations      node dist/src/cli/migrate.js     (run once before the API and workers)
#
# Nothing secret is baked in: configure with environment variables (see .env.example) and mount
# SIGNING_KEYS_FILE / GATEWAY_JWKS_FILE at run time. DEMO_MODE is off unless you set it; in demo
# mode the generated development keys go to KEYS_DIR (/app/.keys, the only directory the service's
# user may write: mount a volume there to keep them).
#
# The runtime stage's `npm ci --omit=dev --ignore-scripts` of the committed lockfile plus dist/ is
# reproduced without Docker by test/ops/image.e2e-spec.ts (.ci/image-runtime), which runs these
# three commands from such a directory.

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- build: every dependency, TypeScript → dist/ ---------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Dev dependencies are needed to build: NODE_ENV must not be production here (it would make npm
# skip them and tsc fail with TS2688 for 'node'). No install script is needed to compile.
RUN npm ci --include=dev --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build \
 && rm -rf dist/bench dist/.tsbuildinfo \
 && find dist -name '*.map' -delete

# --- deps: production dependencies only --------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --ignore-scripts: the only production install scripts are @scarf/scarf (telemetry) and
# msgpackr-extract (an optional native speed-up; msgpackr falls back to JavaScript without it).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- runtime -----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    KEYS_DIR=/app/.keys
WORKDIR /app
# Code and dependencies belong to root and are read-only to the service's user.
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/.keys && chown node:node /app/.keys && chmod 700 /app/.keys
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The service handles SIGTERM itself (drains, then exits within SHUTDOWN_TIMEOUT_MS, 25 s by
# default): give it a longer stop timeout than Docker's 10 s (compose: stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
