# Shared by k8s/build-image.sh and k8s/docker-run.sh (sourced, not run): find a docker client and a running engine
# on a machine that may have neither, as root.

# The Docker engine's own client when Debian's docker.io is installed. Some machines also carry a standalone Docker
# CLI in /usr/local/bin/docker (a static client with no engine behind it); it speaks to dockerd just as well through
# API version negotiation, so it is the fallback, not an error.
pick_docker() {
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
  elif command -v docker >/dev/null 2>&1; then DOCKER=$(command -v docker)
  else DOCKER=""
  fi
}

# Installs Debian packages when their commands are missing: "cmd:package ...".
apt_need() {
  local missing=()
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "need ${missing[*]} (apt-get install ${missing[*]}) and root to install them" >&2
    return 1
  fi
  echo "installing ${missing[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# Where a dockerd started here records its pid, so `k8s/docker-run.sh --stop-dockerd` can end exactly that one.
DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/run/infergraph-dockerd.pid}

# Makes sure an engine answers; starts dockerd by hand when none runs (no init system on these machines).
ensure_dockerd() {
  apt_need dockerd:docker.io || return 1
  pick_docker
  [ -n "$DOCKER" ] || { echo "no docker client after installing docker.io" >&2; return 1; }
  if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" != 0 ]; then echo "no Docker engine answers and only root can start dockerd" >&2; return 1; fi
  local log=${DOCKERD_LOG:-/tmp/infergraph-dockerd.log}
  echo "starting dockerd (log $log, pid file $DOCKERD_PIDFILE)" >&2
  nohup dockerd >"$log" 2>&1 &
  echo $! >"$DOCKERD_PIDFILE"
  for _ in $(seq 1 60); do
    if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null; then
      echo "dockerd exited; last lines of $log:" >&2
      tail -20 "$log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "dockerd did not answer within 30 s (see $log)" >&2
  return 1
}

# Stops the dockerd that ensure_dockerd started (and only that one).
stop_dockerd() {
  [ -f "$DOCKERD_PIDFILE" ] || { echo "no dockerd started by these scripts ($DOCKERD_PIDFILE absent)" >&2; return 0; }
  local pid
  pid=$(cat "$DOCKERD_PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$DOCKERD_PIDFILE"
}
