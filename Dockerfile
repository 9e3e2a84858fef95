# lens-pacs service image: `lens serve` (listeners, workers, web server). The user is uid 10001 (Kubernetes runAsUser).
#   docker build -t lens-pacs --target cpu .            CPU (onnxruntime-node's bundled CPU provider)
#   docker build -t lens-pacs:gpu --target gpu .        CUDA 12 (needs the NVIDIA container toolkit on the host)
# The application files both targets run (sources run through tsx: no build step).
FROM scratch AS app-files
COPY bin /app/bin
COPY src /app/src
COPY models /app/models
COPY plugin /app/plugin
COPY orthanc /app/orthanc
COPY tsconfig.json /app/

# Node 20: package.json engines, CI and the README's setup run the same major version.
FROM node:20-bookworm AS cpu
WORKDIR /app
# skip: onnxruntime-node bundles the CPU provider; without it, its install script downloads the CUDA one.
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc* ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=app-files /app ./
RUN useradd --system --uid 10001 --home /app lens && mkdir -p /data && chown lens /data
USER lens
ENV LENS__WORKDIR=/data LENS__SERVER__HOST=0.0.0.0
EXPOSE 8700
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8700/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/lens.js"]
CMD ["serve"]

# GPU dependencies, installed where the build tools are (node:20-bookworm has python3, make and g++, which
# better-sqlite3 needs when no prebuilt binary matches), with onnxruntime-node's CUDA 12 provider (its install
# script fetches it from the NuGet registry). Nothing else is downloaded: no apt repository, no install script.
FROM node:20-bookworm AS gpu-deps
WORKDIR /app
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=cuda12
COPY package.json package-lock.json .npmrc* ./
RUN npm ci --omit=dev --no-audit --no-fund

# GPU: CUDA 12 + cuDNN runtime, Node 20's binary from the official image (built for bookworm's glibc 2.36, older than
# Ubuntu 24.04's; libstdc++ is there, apt needs it) and the dependencies built above.
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 AS gpu
COPY --from=node:20-bookworm /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
ENV NODE_ENV=production
COPY --from=gpu-deps /app/package.json /app/package-lock.json ./
COPY --from=gpu-deps /app/node_modules ./node_modules
COPY --from=app-files /app ./
RUN useradd --system --uid 10001 --home /app lens && mkdir -p /data && chown lens /data
USER lens
ENV LENS__WORKDIR=/data LENS__SERVER__HOST=0.0.0.0 LENS__MODEL__EXECUTIONPROVIDERS='["cuda","cpu"]' LENS__NODE__GPUS=1
EXPOSE 8700
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8700/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/lens.js"]
CMD ["serve"]
