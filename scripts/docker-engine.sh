#!/usr/bin/env bash
# A Docker Engine for the docker sandbox backend's tests, on a Linux machine without systemd and
# without registry access (CI, this project's development machines):
#   scripts/docker-engine.sh start     installs docker.io if missing, starts dockerd on its own
#                                      socket and data root, prints DOCKER_HOST=… on stdout
#   scripts/docker-engine.sh image     builds the test base image offline (debootstrap from the
#                                      Debian mirror apt uses; cached) and imports it
#   scripts/docker-engine.sh stop      stops that dockerd
#   scripts/docker-engine.sh podman    installs Podman (with runc and catatonit, its init) if
#                                      missing, starts its Docker-compatible socket, imports the
#                                      test image (after `image`), prints DOCKER_HOST=…
#   scripts/docker-engine.sh podman-stop
# A developer's own Docker (Desktop, Engine, Podman, OrbStack, Colima) needs none of this.
set -euo pipefail

SOCKET=/tmp/acontext-docker.sock
RUN_DIR=/run/acontext-docker
DATA_ROOT=/var/lib/acontext-docker
IMAGE=${ACONTEXT_TEST_IMAGE:-acontext-test/base:bookworm}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/acontext-docker
export DOCKER_HOST=unix://$SOCKET

apt_install() {
  local missing=()
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

engine_ping() { curl -fsS --unix-socket "$SOCKET" http://engine/_ping >/dev/null 2>&1; }

start() {
  apt_install dockerd:docker.io curl:curl
  if ! engine_ping; then
    mkdir -p "$RUN_DIR"
    # No systemd: started by hand, in the background, on a socket and data root of its own. No
    # iptables and no docker0: sandboxes with network join a bridge network of the backend's own,
    # which reaches the host's side only (no NAT here), enough for the tests of its fence.
    setsid dockerd --storage-driver=overlay2 --iptables=false --ip-masq=false --bridge=none \
      -H "unix://$SOCKET" --data-root "$DATA_ROOT" --exec-root "$RUN_DIR" \
      --pidfile "$RUN_DIR/dockerd.pid" >>/tmp/acontext-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 600); do engine_ping && break; sleep 0.1; done
    engine_ping || { echo "dockerd did not answer; see /tmp/acontext-dockerd.log" >&2; exit 1; }
  fi
  echo "DOCKER_HOST=$DOCKER_HOST"
}

image() {
  if curl -fsS --unix-socket "$SOCKET" "http://engine/images/$IMAGE/json" >/dev/null 2>&1; then return; fi
  local tar="$CACHE/bookworm-minbase.tar"
  if [ ! -s "$tar" ]; then
    apt_install debootstrap:debootstrap
    local mirror rootfs
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    mirror=${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)}
    rootfs=$(mktemp -d)
    # python3 and procps beside the minimal base: what the tests run in sandboxes.
    debootstrap --variant=minbase --include=python3,procps bookworm "$rootfs" "$mirror" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
    mkdir -p "$CACHE"
    tar -C "$rootfs" -cf "$tar.part" . && mv "$tar.part" "$tar"
    rm -rf "$rootfs"
  fi
  curl -fsS --unix-socket "$SOCKET" -X POST -H "Content-Type: application/x-tar" --data-binary "@$tar" \
    "http://engine/images/create?fromSrc=-&repo=${IMAGE%:*}&tag=${IMAGE##*:}&changes=ENV%20PATH%3D%2Fusr%2Flocal%2Fsbin%3A%2Fusr%2Flocal%2Fbin%3A%2Fusr%2Fsbin%3A%2Fusr%2Fbin%3A%2Fsbin%3A%2Fbin" >/dev/null
}

stop() {
  local pid
  pid=$(cat "$RUN_DIR/dockerd.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

PODMAN_SOCKET=/tmp/acontext-podman.sock
PODMAN_CONF=/tmp/acontext-containers.conf

podman_start() {
  apt_install podman:podman runc:runc catatonit:catatonit
  # runc (crun refuses hybrid cgroups), no rlimits asked above the host's, no journald.
  printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > "$PODMAN_CONF"
  if ! curl -fsS --unix-socket "$PODMAN_SOCKET" http://engine/_ping >/dev/null 2>&1; then
    # From a folder of its own: conmon 2.1 writes an "oom" file into its working directory when a
    # container is OOM-killed (containers/conmon#504), which would land in the checkout.
    mkdir -p /run/acontext-podman
    (cd /run/acontext-podman && CONTAINERS_CONF=$PODMAN_CONF exec setsid podman system service --time=0 "unix://$PODMAN_SOCKET" >>/tmp/acontext-podman.log 2>&1 < /dev/null) &
    echo $! > /tmp/acontext-podman.pid
    for _ in $(seq 300); do curl -fsS --unix-socket "$PODMAN_SOCKET" http://engine/_ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  if ! CONTAINERS_CONF=$PODMAN_CONF podman image exists "$IMAGE"; then
    CONTAINERS_CONF=$PODMAN_CONF podman import --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      "$CACHE/bookworm-minbase.tar" "$IMAGE" >/dev/null
  fi
  echo "DOCKER_HOST=unix://$PODMAN_SOCKET"
}

podman_stop() {
  local pid
  pid=$(cat /tmp/acontext-podman.pid 2>/dev/null || true)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
}

case "${1:?usage: docker-engine.sh start|image|stop|podman|podman-stop}" in
  podman) podman_start ;;
  podman-stop) podman_stop ;;
  start | image | stop) "$1" ;;
  *) echo "usage: docker-engine.sh start|image|stop|podman|podman-stop" >&2; exit 2 ;;
esac
