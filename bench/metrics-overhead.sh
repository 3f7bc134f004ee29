#!/usr/bin/env bash
# What Prometheus metrics cost: `infergraph bench` on one graph with metrics on and off, alternating (on, off, on, off
# ...) so that drift on a shared machine hits both alike; prints throughput and p50 per concurrency for each mode.
#   bash bench/metrics-overhead.sh [graph] [rounds] [duration-s]
# Needs `npm run build`. Reports land in bench-out/metrics-overhead/<mode>-<round>/.
set -euo pipefail
cd "$(dirname "$0")/.."
GRAPH=${1:-graphs/test-ensemble.yaml}
ROUNDS=${2:-2}
DURATION=${3:-5}
OUT=bench-out/metrics-overhead
rm -rf "$OUT" && mkdir -p "$OUT"
for r in $(seq 1 "$ROUNDS"); do
  for mode in on off; do
    flag=(); [ "$mode" = off ] && flag=(--no-metrics)
    node dist/src/cli/main.js bench --graph "$GRAPH" -c 1,8 -d "$DURATION" -w 3 --no-baseline --no-progress \
      -o "$OUT/$mode-$r" "${flag[@]}" > "$OUT/$mode-$r.log" 2>&1 || { cat "$OUT/$mode-$r.log"; exit 1; }
  done
done
node - "$OUT" "$ROUNDS" <<'JS'
const fs = require('fs');
const [out, rounds] = process.argv.slice(2);
const rows = {};
for (const mode of ['on', 'off']) for (let r = 1; r <= Number(rounds); r++) {
  const dir = `${out}/${mode}-${r}`;
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
  for (const l of JSON.parse(fs.readFileSync(`${dir}/${file}`, 'utf8')).levels) {
    const k = `${l.concurrency}`;
    ((rows[k] ??= { on: [], off: [] })[mode]).push({ rps: l.throughput, p50: l.latency.p50, errors: l.errors });
  }
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log('| c | metrics on: req/s | off: req/s | throughput change | on: p50 ms | off: p50 ms | p50 change |');
console.log('|---|---|---|---|---|---|---|');
for (const [c, { on, off }] of Object.entries(rows)) {
  const [ron, roff] = [mean(on.map((x) => x.rps)), mean(off.map((x) => x.rps))];
  const [pon, poff] = [mean(on.map((x) => x.p50)), mean(off.map((x) => x.p50))];
  const change = `${(100 * (ron / roff - 1)).toFixed(1)} %`;
  const dp50 = `${pon - poff >= 0 ? '+' : ''}${(pon - poff).toFixed(3)} ms`;
  const p50s = `${pon.toFixed(3)} | ${poff.toFixed(3)}`;
  console.log(`| ${c} | ${ron.toFixed(1)} | ${roff.toFixed(1)} | ${change} | ${p50s} | ${dp50} |`);
  const list = (xs, k, d) => xs.map((x) => x[k].toFixed(d)).join(', ');
  const rps = `${list(on, 'rps', 0)} | ${list(off, 'rps', 0)}`;
  console.log(`|   | rounds: ${rps} | | ${list(on, 'p50', 3)} | ${list(off, 'p50', 3)} | |`);
}
JS
