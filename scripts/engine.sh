#!/usr/bin/env bash
# Makes sure a Docker engine answers, installing and starting one on a bare Debian machine.
# Sourced by .ci/run and scripts/demo.sh. Sets CASCADE_STARTED_DOCKERD=<pid> when it started one.
set -euo pipefail

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
# The report's browser test opens report.html in Debian's chromium (driven by playwright-core).
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "engine: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! timeout 5 docker info >/dev/null 2>&1; then
  echo "engine: starting dockerd (log: /tmp/cascade-dockerd.log)"
  # No iptables on these machines; published ports go through docker-proxy on 127.0.0.1.
  nohup dockerd --iptables=false --ip6tables=false >/tmp/cascade-dockerd.log 2>&1 &
  export CASCADE_STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! timeout 5 docker info >/dev/null 2>&1; then
    echo "engine: dockerd did not come up; its log says:" >&2
    tail -20 /tmp/cascade-dockerd.log >&2
    exit 3
  fi
fi
echo "engine: $(docker version --format 'server {{.Server.Version}}')"
