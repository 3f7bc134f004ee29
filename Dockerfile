# infergraph: one image for every process of a graph. The argument picks the role:
#   docker run infergraph:dev node --graph /etc/infergraph/graph.yaml --node top1 --address 0.0.0.0:9000
#   docker run infergraph:dev executor --graph /etc/infergraph/graph.yaml --address 0.0.0.0:8000
#   docker run infergraph:dev predict --address host:8000 image.JPEG
# No model weights are baked in: mount them, or build `--target with-synthetic-models` for the generated ones.
#
# BASE must be glibc-based (onnxruntime-node ships no musl binary; sharp needs glibc >= 2.28) and carry node + npm in
# /usr/local. Where the official image cannot be pulled, k8s/build-image.sh makes an equivalent local one.
ARG BASE=node:20-bookworm-slim

# --- build: all dependencies, TypeScript compiled to dist/ ---
FROM ${BASE} AS build
WORKDIR /src
# onnxruntime-node's install script downloads optional GPU files; the CPU binary is inside the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the root `prepare` would build before the sources are here; no dependency needs its script
# (sharp's and onnxruntime-node's binaries ship in their packages, protobufjs's postinstall only checks versions).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY protos protos
COPY src src
COPY graphs graphs
RUN npx tsc -p tsconfig.json

# --- deps: production dependencies only, trimmed to this platform ---
FROM ${BASE} AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts also keeps `prepare` (which needs TypeScript, a dev dependency) from running.
# onnxruntime-node carries binaries for every OS and CPU (~290 MB): keep only this one's (~45 MB); so does koffi
# (jpeg-input's bridge to libturbojpeg, ~74 MB of binaries): keep linux_<arch> (5 MB).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && keep="linux/$(node -p process.arch)" \
 && test -d "$ort/$keep" \
 && for d in "$ort"/*/*; do [ "$d" = "$ort/$keep" ] || rm -rf "$d"; done \
 && find "$ort" -mindepth 1 -maxdepth 1 -type d -empty -delete \
 && kb=node_modules/koffi/build/koffi \
 && if [ -d "$kb" ]; then for d in "$kb"/*; do [ "$d" = "$kb/linux_$(node -p process.arch)" ] || rm -rf "$d"; done; fi

# --- synthetic models (optional): `docker build --target with-synthetic-models` ---
FROM build AS synthetic-models
LABEL dev.infergraph.stage=synthetic-models
RUN node dist/src/cli/main.js models generate --dir /models

# --- runtime ---
FROM ${BASE} AS runtime
ARG BASE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="infergraph" \
      org.opencontainers.image.description="Seldon-style inference graph server: one process per node, gRPC with typed tensors; runs any node, the executor or the operator by argument" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE}"
ENV NODE_ENV=production
# jpeg-input decodes JPEGs with libjpeg-turbo's TurboJPEG (Pillow's decoder and pixels, ~1.3 ms faster per image
# than libvips); without it, it falls back to libvips and logs why.
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Code stays root-owned (the process cannot change it); only the default models folder belongs to the runtime user.
COPY --from=deps /app/node_modules node_modules
COPY package.json ./
COPY protos protos
COPY graphs graphs
COPY --from=build /src/dist/src dist/src
COPY --from=build /src/dist/graphs dist/graphs
RUN mkdir -p models/generated && chown 10001:10001 models/generated
# A numeric uid (no passwd entry needed) so Kubernetes can verify runAsNonRoot.
USER 10001:10001
ENV HOME=/tmp
EXPOSE 8000 9000
# Node is PID 1: the node and executor processes handle SIGTERM/SIGINT themselves (drain, flush spans, exit), and the
# CLI exits on them for the short commands; nothing here forks children that would need reaping except `up`, which
# waits for its own.
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]

FROM runtime AS with-synthetic-models
COPY --from=synthetic-models --chown=10001:10001 /models models/generated

# The default target: the image without weights.
FROM runtime
