#!/usr/bin/env bash
# Builds the infergraph image on a machine with no image registry, as root:
#   k8s/build-image.sh [extra docker build args...]       e.g. --target with-synthetic-models -t infergraph:models
# Installs docker.io and debootstrap if missing, starts dockerd by hand if none runs, makes a local Node base image
# (a debootstrapped Debian bookworm with this machine's node and npm copied in) unless it exists, then builds.
# Where the official node:20-bookworm-slim can be pulled, plain `docker build -t infergraph:dev .` does the same.
#
# Environment: IMAGE (default infergraph:dev), BASE_IMAGE (default local/node:<major>-bookworm), REBUILD_BASE=1 to
# remake the base, DEBIAN_MIRROR (default: this machine's apt source).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=docker-lib.sh
. "$here/docker-lib.sh"

IMAGE=${IMAGE:-infergraph:dev}
root=
node_bin=$(readlink -f "$(command -v node)")
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
BASE_IMAGE=${BASE_IMAGE:-local/node:${node_major}-bookworm}

ensure_dockerd

# The mirror this machine's apt already uses (deb822 or one-line format), so debootstrap reaches the same place.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  echo "$m"
}

make_base() {
  apt_need debootstrap:debootstrap
  root=$(mktemp -d /tmp/infergraph-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap --variant=minbase bookworm $root (about 30 s)" >&2
  # shellcheck disable=SC2046
  debootstrap --variant=minbase bookworm "$root" $(debian_mirror) >/tmp/infergraph-debootstrap.log 2>&1 || {
    tail -20 /tmp/infergraph-debootstrap.log >&2
    return 1
  }
  # This machine's Node binary (glibc, needs only libc/libstdc++, which minbase has) and its npm.
  install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
  local npm_dir
  npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # minbase has no ca-certificates: bring this machine's bundle, and trust it the way this machine's Node does, or
  # npm inside the build cannot verify the registry it reaches from here.
  local env_args=(-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    install -D -m 0644 "$NODE_EXTRA_CA_CERTS" "$root$NODE_EXTRA_CA_CERTS"
    env_args+=(-c "ENV NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS")
  fi
  # What an image never needs: package caches and lists, docs (copyright files stay), man pages, locales.
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
    "$root"/usr/share/info/* "$root"/var/log/*
  find "$root/usr/share/doc" -type f ! -name copyright -delete
  echo "docker import -> $BASE_IMAGE (node $("$node_bin" --version))" >&2
  tar -C "$root" -c . | "$DOCKER" import "${env_args[@]}" -c "ENV NODE_VERSION=$("$node_bin" -p process.versions.node)" \
    -c 'CMD ["node"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
}

if [ "${REBUILD_BASE:-0}" = 1 ] || ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  make_base
else
  echo "base image $BASE_IMAGE exists (REBUILD_BASE=1 remakes it)" >&2
fi

revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
version=$("$node_bin" -p "require('$repo/package.json').version")
# --network host: the build's npm reaches the registry the way this machine does.
"$DOCKER" build --network host \
  --build-arg "BASE=$BASE_IMAGE" \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$IMAGE" "$@" "$repo"
# The classic builder keeps every stage as an untagged image; the ones carrying a model file or an image replaced by
# this build would pile up (~600 MB per changed build). The dependency layers stay cached.
"$DOCKER" image prune -f --filter label=org.opencontainers.image.title=infergraph >/dev/null
"$DOCKER" image prune -f --filter label=dev.infergraph.stage=synthetic-models >/dev/null
"$DOCKER" image inspect "$IMAGE" --format "$IMAGE {{.Id}} {{.Size}} bytes" >&2
