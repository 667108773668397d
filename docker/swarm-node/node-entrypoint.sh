#!/bin/sh
# No iptables here (the host has none for us either): published ports go through docker-proxy.
# /var/lib/docker is a volume (ext4 on the host), so overlay2 works inside.
# DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: a task of a service uses the image the node has instead of first
# trying a pull (with no registry reachable, each pull attempt delayed every task start by ~20 s).
set -e
export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
mkdir -p /cascade
rm -f /cascade/docker.sock /var/run/docker.pid
exec dockerd -H unix:///cascade/docker.sock -H unix:///var/run/docker.sock \
  --iptables=false --ip6tables=false --storage-driver=overlay2 "$@"
