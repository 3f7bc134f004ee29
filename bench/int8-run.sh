#!/usr/bin/env bash
# One run of the issue-14 measurements (fp32 vs int8 vs batching vs instances), one after the other on the same
# machine, so the ratios within the run are comparable. Needs `infergraph models generate --int8` first.
#   bash bench/int8-run.sh [out-dir]        (about 8 minutes)
# BASE_CLI=/path/to/older/dist/src/cli/main.js adds the same ensemble served by an older build (before instances).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out/int8-run}
mkdir -p "$OUT"
IMAGE=$(ls ../shared/imagenet/dev/*.JPEG 2>/dev/null | head -1 || true)
IMG_ARGS=()
[ -n "$IMAGE" ] && IMG_ARGS=(--image "$IMAGE")
CLI=dist/src/cli/main.js
SECONDS_PER=${SECONDS_PER:-15}

echo "== in-process, one session each, alternating (bench/int8-speed.ts)" | tee "$OUT/summary.txt"
for arch in resnet50 densenet169; do
  for batch in 1 4; do
    echo "-- $arch batch $batch" | tee -a "$OUT/summary.txt"
    node dist/bench/int8-speed.js --fp32 models/generated/$arch.onnx --int8 models/generated/$arch-int8.onnx \
      --batch $batch --seconds "$SECONDS_PER" | tee -a "$OUT/summary.txt"
  done
done

bench() { # name manifest [cli]
  local name=$1 manifest=$2 cli=${3:-$CLI}
  node "$cli" bench -g "$manifest" -c 8 -d 5 -w 3 --no-baseline --no-progress "${IMG_ARGS[@]}" -o "$OUT/$name" > "$OUT/$name.log" 2>&1
  echo "$name: $(grep -E '^\| graph \| 8 \|' "$OUT/$name.log")" | tee -a "$OUT/summary.txt"
}
echo "== ensemble through the graph, c=8 (infergraph bench; columns: req/s, p50, p90, p99, mean ms, ...)" | tee -a "$OUT/summary.txt"
[ -n "${BASE_CLI:-}" ] && bench fp32-before-instances "$(dirname "$BASE_CLI")/../../../graphs/imagenet-ensemble.yaml" "$BASE_CLI"
bench fp32 graphs/imagenet-ensemble.yaml
bench fp32-instances2 bench/graphs/fp32-instances2.yaml
bench fp32-batch4 bench/graphs/fp32-batch4.yaml
bench int8 graphs/imagenet-ensemble-int8.yaml
bench int8-instances2 bench/graphs/int8-instances2.yaml
bench int8-batch4 bench/graphs/int8-batch4.yaml

echo "== health of the resnet50 node while the ensemble is saturated (c=8)" | tee -a "$OUT/summary.txt"
for g in graphs/imagenet-ensemble.yaml bench/graphs/fp32-nice0.yaml graphs/imagenet-ensemble-int8.yaml bench/graphs/int8-nice0.yaml; do
  node dist/bench/health-under-load.js --graph "$g" --seconds "$SECONDS_PER" | tee -a "$OUT/summary.txt"
done
if [ -n "${BASE_CLI:-}" ] && [ -f "$(dirname "$BASE_CLI")/../../bench/health-under-load.js" ]; then
  (cd "$(dirname "$BASE_CLI")/../../.." && node dist/bench/health-under-load.js --graph graphs/imagenet-ensemble.yaml --seconds "$SECONDS_PER") \
    | sed 's/^/before instances: /' | tee -a "$OUT/summary.txt"
fi
