#!/usr/bin/env bash
# Runs a graph as docker containers, one per pod of what `infergraph render <manifest>` emits (see
# k8s/docker-run/plan.ts), on a user-defined network; the executor's port is published on 127.0.0.1 only.
#   k8s/docker-run.sh graphs/imagenet-mobilenet.yaml --predict ../shared/imagenet/dev/n01440764_tench.JPEG
#   k8s/docker-run.sh --down <run-id>        k8s/docker-run.sh --stop-dockerd
# Needs the image (k8s/build-image.sh) and a Docker engine (started here by hand if none runs, as root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=docker-lib.sh
. "$here/docker-lib.sh"
if [ "${1:-}" = --stop-dockerd ]; then stop_dockerd; exit 0; fi
ensure_dockerd
[ -f "$repo/dist/k8s/docker-run/run.js" ] || (cd "$repo" && npm run build >&2)
DOCKER=$DOCKER exec node "$repo/dist/k8s/docker-run/run.js" "$@"
