#!/usr/bin/env bash
# Downloads real, pretrained ImageNet classifiers and the ImageNet class list into models/pretrained/, to use
# instead of the synthetic models that `infergraph models generate` writes (whose predictions mean nothing).
#
# Needs internet access; it is not run in CI. Usage:
#
#   models/fetch-pretrained.sh [--source zoo|torchvision] [--out DIR] [--force]
#
#   --source zoo (default)   ONNX Model Zoo (github.com/onnx/models, Apache-2.0), plain curl:
#                              resnet50-v1-12.onnx  ResNet-50 v1 (MXNet/Gluon), input `data` [N,3,224,224],
#                                                   output `resnetv17_dense0_fwd` [N,1000]; zoo top-1 74.97 %.
#                              densenet-12.onnx     DenseNet-121 (Caffe2 port): the zoo has no DenseNet-169.
#                                                   Input `data_0` [1,3,224,224] (batch fixed at 1), output
#                                                   `fc6_1` [1,1000,1,1].
#                            Both expect the project's preprocessing (RGB, shorter side 256, centre crop 224,
#                            /255, mean [0.485,0.456,0.406], std [0.229,0.224,0.225], NCHW) and give raw scores.
#   --source torchvision     Exports torchvision's own pretrained ResNet-50 (v1.5, IMAGENET1K_V1) and
#                            DenseNet-169 (IMAGENET1K_V1) -- exactly the architectures the synthetic generator
#                            imitates -- with input `input` [batch_size,3,224,224] and output `output`
#                            [batch_size,1000], opset 13. Needs python3 with torch, torchvision and onnx
#                            (`pip install torch torchvision onnx`); torchvision downloads the weights (BSD-3).
#   --out DIR                Output folder (default: models/pretrained next to this script).
#   --force                  Download again even if the files exist.
#
# Always written: DIR/labels.tsv, `index<TAB>wnid<TAB>name` for the 1000 classes in the standard order (the format
# of ../shared/imagenet/labels.tsv), made from the zoo's synset.txt by keeping the first name of each synonym list.
#
# The model input/output names differ between sources; that is fine, the onnx-model component discovers them.
set -euo pipefail

ZOO=https://github.com/onnx/models/raw/main/validated/vision/classification
ZOO_RESNET50="$ZOO/resnet/model/resnet50-v1-12.onnx"
ZOO_DENSENET="$ZOO/densenet-121/model/densenet-12.onnx"
SYNSET_URLS=(
  "$ZOO/synset.txt"
  "https://s3.amazonaws.com/onnx-model-zoo/synset.txt"
)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(dirname "$SCRIPT_DIR")
SOURCE=zoo
OUT="$SCRIPT_DIR/pretrained"
FORCE=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "fetch-pretrained: $*" >&2; exit 1; }
log() { echo "fetch-pretrained: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --source) SOURCE=${2:-}; shift 2 ;;
    --source=*) SOURCE=${1#*=}; shift ;;
    --out) OUT=${2:-}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $SOURCE == zoo || $SOURCE == torchvision ]] || die "--source must be zoo or torchvision, got '$SOURCE'"
[[ -n $OUT ]] || die "--out needs a directory"
command -v curl >/dev/null || die "curl is required"
mkdir -p "$OUT"

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi; }

# download URL DEST: to a temporary name first, so an interrupted download never looks like a finished file.
download() {
  local url=$1 dest=$2
  if [[ -s $dest && $FORCE -eq 0 ]]; then
    log "$dest exists (use --force to download again)"
    return 0
  fi
  log "downloading $url"
  curl --fail --location --retry 3 --connect-timeout 20 --progress-bar -o "$dest.part" "$url" || {
    rm -f "$dest.part"
    return 1
  }
  # github.com/.../raw/ on a Git LFS file normally redirects to the content; if a pointer comes back instead, fail.
  if head -c 100 "$dest.part" | grep -q '^version https://git-lfs'; then
    rm -f "$dest.part"
    die "$url returned a Git LFS pointer, not the file; download it from the repository page instead"
  fi
  mv "$dest.part" "$dest"
}

check_onnx() {
  local file=$1 min_bytes=$2 size
  size=$(wc -c <"$file" | tr -d ' ')
  ((size >= min_bytes)) || die "$file is only $size bytes; expected at least $min_bytes (bad download?)"
  log "$file: $size bytes, sha256 $(sha256 "$file")"
  # When the project is installed, let onnxruntime itself confirm the file loads and show its input/output names.
  if [[ -d $PROJECT_DIR/node_modules/onnxruntime-node ]] && command -v node >/dev/null; then
    (cd "$PROJECT_DIR" && node -e '
      const ort = require("onnxruntime-node");
      ort.InferenceSession.create(process.argv[1]).then(async (s) => {
        const fmt = (m) => m.map((v) => `${v.name} ${v.isTensor ? `${v.type} [${v.shape.join(",")}]` : ""}`).join("; ");
        console.error(`fetch-pretrained:   inputs:  ${fmt(s.inputMetadata)}`);
        console.error(`fetch-pretrained:   outputs: ${fmt(s.outputMetadata)}`);
        await s.release();
      }).catch((e) => { console.error(`fetch-pretrained: onnxruntime cannot load ${process.argv[1]}: ${e.message}`); process.exit(1); });
    ' "$file")
  fi
}

fetch_zoo() {
  download "$ZOO_RESNET50" "$OUT/resnet50-v1-12.onnx" || die "download of $ZOO_RESNET50 failed"
  check_onnx "$OUT/resnet50-v1-12.onnx" 90000000
  download "$ZOO_DENSENET" "$OUT/densenet-12.onnx" || die "download of $ZOO_DENSENET failed"
  check_onnx "$OUT/densenet-12.onnx" 30000000
}

export_torchvision() {
  command -v python3 >/dev/null || die "--source torchvision needs python3 with torch, torchvision and onnx"
  local resnet="$OUT/torchvision-resnet50.onnx" densenet="$OUT/torchvision-densenet169.onnx"
  if [[ -s $resnet && -s $densenet && $FORCE -eq 0 ]]; then
    log "$resnet and $densenet exist (use --force to export again)"
  else
    log "exporting torchvision resnet50 and densenet169 (pretrained IMAGENET1K_V1 weights)"
    python3 - "$resnet" "$densenet" <<'PY'
import inspect
import sys

import torch
import torchvision

outputs = {"resnet50": sys.argv[1], "densenet169": sys.argv[2]}
for arch, path in outputs.items():
    model = getattr(torchvision.models, arch)(weights="IMAGENET1K_V1").eval()
    kwargs = dict(
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
        opset_version=13,
        do_constant_folding=True,
    )
    # torch >= 2.9 defaults to the dynamo exporter; the classic one handles dynamic_axes for these CNNs directly.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    with torch.no_grad():
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), path + ".part", **kwargs)
    import os
    os.replace(path + ".part", path)
    print(f"fetch-pretrained: wrote {path}", file=sys.stderr)
PY
  fi
  check_onnx "$resnet" 90000000
  check_onnx "$densenet" 50000000
}

# synset.txt lines look like "n01440764 tench, Tinca tinca"; labels.tsv keeps the wnid and the first name.
fetch_labels() {
  local synset="$OUT/synset.txt" url ok=0
  if [[ -s $synset && $FORCE -eq 0 ]]; then
    ok=1
  else
    for url in "${SYNSET_URLS[@]}"; do
      if download "$url" "$synset"; then ok=1; break; fi
      log "could not download $url; trying the next mirror"
    done
  fi
  ((ok)) || die "could not download synset.txt"
  tr -d '\r' <"$synset" | awk '
    NF == 0 { next }
    {
      wnid = $1
      rest = substr($0, length($1) + 2)
      n = index(rest, ",")
      name = n ? substr(rest, 1, n - 1) : rest
      gsub(/^[ \t]+|[ \t]+$/, "", name)
      if (wnid !~ /^n[0-9]+$/ || name == "") { printf "bad synset line %d: %s\n", NR, $0 > "/dev/stderr"; bad = 1; exit 1 }
      printf "%d\t%s\t%s\n", count++, wnid, name
    }
    END {
      if (bad) exit 1
      if (count != 1000) { printf "expected 1000 classes, got %d\n", count > "/dev/stderr"; exit 1 }
    }
  ' >"$OUT/labels.tsv.part" || { rm -f "$OUT/labels.tsv.part"; die "$synset is not a 1000-class synset list"; }
  mv "$OUT/labels.tsv.part" "$OUT/labels.tsv"
  log "$OUT/labels.tsv: 1000 classes"
}

if [[ $SOURCE == zoo ]]; then fetch_zoo; else export_torchvision; fi
fetch_labels

cat >&2 <<EOF
fetch-pretrained: done. Point a MODEL node's \`model\` parameter at a fetched file in a graph manifest, e.g.
    parameters:
      model: ../models/pretrained/$([[ $SOURCE == zoo ]] && echo resnet50-v1-12.onnx || echo torchvision-resnet50.onnx)
(relative paths resolve against the manifest's folder); the class list is $OUT/labels.tsv. See models/README.md.
EOF
