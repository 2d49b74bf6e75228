# syntax=docker/dockerfile:1
# One image for every entry point of Gatehouse:
#   gatehouse operator | sidecar | audit | revoke | validate | service-token
# Build:  docker build -t ghcr.io/gatehouse-dev/gatehouse:0.1.0 .
# The chart runs `operator` from it and the webhook injects it as the sidecar.

# Build stage: bundle the command and its libraries into dist/ (scripts/build.ts, esbuild).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts/build.ts scripts/bundle-settings.ts scripts/precompiled-checks.ts ./scripts/
COPY bin ./bin
COPY lib ./lib
COPY contract ./contract
COPY sidecar/src ./sidecar/src
COPY operator/src ./operator/src
COPY audit/src ./audit/src
RUN npm run build && mkdir compile-cache

# Runtime: distroless Node 24 (no shell, no package manager), non-root (65532). The bundle needs
# no node_modules; package.json only marks dist/ as ES modules.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist ./dist
COPY crds ./crds
ENV NODE_ENV=production
# The sidecar's CPU per request, memory bound and request latency depend on these V8 options
# (contract/sidecar-node-options.ts; a test keeps the two equal). V8 reads them only at start, so
# they travel in NODE_OPTIONS.
ENV NODE_OPTIONS="--max-semi-space-size=4 --v8-pool-size=1"
# glibc gives the free top of a heap back once it exceeds 128 KiB, a threshold that then no longer
# rises as V8's compiles free large blocks (contract/sidecar-node-options.ts: idle RSS 3 to 10 MiB
# lower, the peak 2 to 4). Checked against the constant by the same test.
ENV MALLOC_TRIM_THRESHOLD_=131072
# glibc maps blocks of 32 KiB and more on their own and unmaps them when freed: V8's compiler memory
# and body buffers no longer stay resident in its heaps (contract/sidecar-node-options.ts: about
# 9 MiB less at rest, half the memory after a load of large bodies; up to three fifths more CPU
# per MiB of body, about a tenth more to the first answer). Checked by the same test.
ENV MALLOC_MMAP_THRESHOLD_=32768
# Node's compile cache (V8 code cache) of every module of dist/, made here by this stage's own node
# with the options above (V8 takes a code cache only from the same V8 and code-relevant flags): a
# process reads compiled code instead of compiling about 2 MB of JavaScript, and a sidecar answers
# 30 to 70 ms sooner (docs/benchmarks.md). Node keeps a cache per user, so it is made as the user
# the processes run as; in a pod the root filesystem is read-only, so they read it and never write
# it. A module it does not fit is compiled as without it (test/sidecar/compile-cache.test.ts).
ENV NODE_COMPILE_CACHE=/app/compile-cache
COPY --from=build --chown=65532:65532 /src/compile-cache ./compile-cache
USER 65532:65532
RUN ["/nodejs/bin/node", "/app/dist/bin/warm-compile-cache.js", "/app/compile-cache"]
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/bin/gatehouse.js"]
