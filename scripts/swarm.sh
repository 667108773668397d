#!/usr/bin/env bash
# A 3-node Docker Swarm for tests, on one machine: each node is Debian's Docker engine in a
# container (docker/swarm-node) on the bridge network cascade-swarm. node-1 is the manager,
# node-2 and node-3 join as workers. Each inner engine serves a unix socket the host sees at
# /run/cascade-swarm/node-N/docker.sock; /run/cascade-swarm/cluster.json describes the cluster.
#
#   scripts/swarm.sh up                 build the node image offline if missing, start and join the nodes
#   scripts/swarm.sh load-images [ref…] copy images from the host engine into every node (default: the offline catalog)
#   scripts/swarm.sh status             the nodes, their swarm state and availability
#   scripts/swarm.sh down               remove the nodes, their volumes, the network and /run/cascade-swarm
#
# The kernel here has no IPVS: services need --endpoint-mode dnsrr (no VIP, no ingress mesh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# CASCADE_SWARM_ID=x makes a second, separate swarm beside the default one (containers
# cascade-x-node-N, network cascade-swarm-x, label cascade.swarm=x, /run/cascade-swarm-x).
SWARM_ID=${CASCADE_SWARM_ID:-}
[[ $SWARM_ID =~ ^[a-z0-9]*$ ]] || { echo "swarm: CASCADE_SWARM_ID must be lower-case letters and digits" >&2; exit 2; }
PREFIX=cascade-node-
NET=cascade-swarm
LABEL=cascade.swarm=1
if [ -n "$SWARM_ID" ]; then
  PREFIX=cascade-$SWARM_ID-node-
  NET=cascade-swarm-$SWARM_ID
  LABEL=cascade.swarm=$SWARM_ID
fi
RUN_DIR=/run/$NET
NODES=(1 2 3)
BASE_REF=cascade/base:bookworm-minbase
CONTEXT="$ROOT/docker/swarm-node"

die() {
  echo "swarm: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
container() { echo "$PREFIX$1"; }
volume() { echo "$PREFIX$1-data"; }
sock() { echo "$RUN_DIR/node-$1/docker.sock"; }
# The docker CLI against node N's inner engine; every call bounded.
node_docker() {
  local n=$1
  shift
  timeout "${NODE_TIMEOUT:-30}" docker -H "unix://$(sock "$n")" "$@"
}

# Runs "$@" until it succeeds, at most $1 seconds; on timeout fails with $2.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 < limit)) || die "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}

need_engine() {
  timeout 10 docker info >/dev/null 2>&1 || die "the host Docker engine does not answer (start it: source scripts/engine.sh)"
}

# The node image's tag: a hash of its recipe (Dockerfile, entrypoint) and the base image id, as
# src/images/build.ts tags the offline role images.
node_image_ref() {
  local base_id
  base_id=$(docker image inspect -f '{{.Id}}' "$BASE_REF" 2>/dev/null) || die "no base image $BASE_REF"
  local hash
  hash=$(
    {
      printf '%s' "$base_id"
      for f in $(cd "$CONTEXT" && ls | LC_ALL=C sort); do
        printf '%s\0' "$f"
        cat "$CONTEXT/$f"
      done
    } | sha256sum | cut -c1-12
  )
  echo "cascade/swarm-node:$hash"
}

build_node_image() {
  if ! docker image inspect "$BASE_REF" >/dev/null 2>&1; then
    echo "swarm: no $BASE_REF: building the offline images (CASCADE_IMAGES=offline node bin/cascade.js images build)"
    (cd "$ROOT" && CASCADE_IMAGES=offline timeout 1800 node bin/cascade.js images build) || die "the offline image build failed"
  fi
  local ref
  ref=$(node_image_ref)
  if docker image inspect "$ref" >/dev/null 2>&1; then
    echo "swarm: node image $ref present" >&2
  else
    local t0
    t0=$(now)
    echo "swarm: building node image $ref (Debian's docker.io on $BASE_REF)" >&2
    # --network host: apt inside the build reaches Debian's mirror even with --iptables=false.
    timeout 900 docker build -q --network host --build-arg "BASE=$BASE_REF" --label cascade.role=swarm-node -t "$ref" "$CONTEXT" >&2 ||
      die "the node image build failed"
    echo "swarm: built $ref in $(since "$t0") s" >&2
  fi
  echo "$ref"
}

address_of() {
  docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$(container "$1")"
}

# The bridge gets the subnet Docker picks, then is made again with it declared: only on a network
# with a user-configured subnet may a node reconnected after a network cut ask for its old address.
make_network() {
  docker network create --label "$LABEL" "$NET" >/dev/null
  local subnet gateway
  subnet=$(docker network inspect -f '{{(index .IPAM.Config 0).Subnet}}' "$NET")
  gateway=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "$NET")
  docker network rm "$NET" >/dev/null
  docker network create --label "$LABEL" --subnet "$subnet" --gateway "$gateway" "$NET" >/dev/null
}

start_node() {
  local n=$1 image=$2 name
  name=$(container "$n")
  mkdir -p "$RUN_DIR/node-$n"
  docker volume create --label "$LABEL" "$(volume "$n")" >/dev/null
  # --privileged is refused on this host ("unable to apply caps"); these caps are what dockerd
  # needs. The host's cgroup tree is mounted whole, so a task container's cgroup lands at the same
  # /sys/fs/cgroup/<controller>/docker/<id> as a host container's. /var/lib/docker is a volume
  # (ext4 on the host disk) so overlay2 works inside and images do not sit in RAM.
  # Not --pid host: then a killed node's tasks would live on as orphans (their cgroups are outside
  # the node's); in the node's own pid namespace they die with it. --init: dockerd as pid 1 does
  # not reap the exited containerd-shims it orphans.
  docker run -d --name "$name" --hostname "$name" --label "$LABEL" \
    --network "$NET" --init \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE --cap-add MKNOD \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    -v "$RUN_DIR/node-$n:/cascade" \
    -v "$(volume "$n"):/var/lib/docker" \
    "$image" >/dev/null
}

write_cluster() {
  local tmp="$RUN_DIR/cluster.json.tmp" nodes="[]"
  for n in "${NODES[@]}"; do
    local info id hostname role address
    info=$(node_docker "$n" info --format '{{.Swarm.NodeID}} {{.Name}} {{.Swarm.ControlAvailable}}')
    read -r id hostname control <<<"$info"
    role=worker
    [ "$control" = true ] && role=manager
    address=$(address_of "$n")
    nodes=$(jq -c --arg name "node-$n" --arg hostname "$hostname" --arg id "$id" --arg socket "$(sock "$n")" \
      --arg address "$address" --arg container "$(container "$n")" --arg network "$NET" --arg role "$role" \
      '. + [{name: $name, hostname: $hostname, id: $id, socket: $socket, address: $address, container: $container, network: $network, role: $role}]' <<<"$nodes")
  done
  jq -n --arg manager "$(sock 1)" --argjson nodes "$nodes" '{manager: $manager, nodes: $nodes}' >"$tmp"
  mv "$tmp" "$RUN_DIR/cluster.json"
}

ready_nodes() {
  node_docker 1 node ls --format '{{.Status}} {{.Availability}}' 2>/dev/null | grep -c '^Ready Active$' || true
}

cmd_up() {
  local t0
  t0=$(now)
  need_engine
  local existing
  existing=$(docker ps -aq --filter "label=$LABEL")
  if [ -n "$existing" ]; then
    if [ -f "$RUN_DIR/cluster.json" ] && [ "$(ready_nodes)" = "${#NODES[@]}" ]; then
      write_cluster
      echo "swarm: already up ($RUN_DIR/cluster.json rewritten)"
      cmd_status
      return 0
    fi
    die "containers labelled $LABEL exist but the swarm is not whole: run scripts/swarm.sh down first"
  fi
  docker network inspect "$NET" >/dev/null 2>&1 && die "network $NET exists with no nodes: run scripts/swarm.sh down first"
  local image
  image=$(build_node_image)
  make_network
  mkdir -p "$RUN_DIR"
  for n in "${NODES[@]}"; do start_node "$n" "$image"; done
  for n in "${NODES[@]}"; do
    wait_for 60 "node-$n's engine at $(sock "$n") (docker logs $(container "$n"))" node_docker "$n" info
  done
  local manager_addr
  manager_addr=$(address_of 1)
  node_docker 1 swarm init --advertise-addr "$manager_addr" >/dev/null
  local token
  token=$(node_docker 1 swarm join-token -q worker)
  for n in "${NODES[@]:1}"; do
    node_docker "$n" swarm join --advertise-addr "$(address_of "$n")" --token "$token" "$manager_addr:2377" >/dev/null
  done
  wait_for 60 "${#NODES[@]} nodes Ready and Active on the manager" test "$(ready_nodes)" = "${#NODES[@]}"
  write_cluster
  cmd_status
  echo "swarm: up in $(since "$t0") s; cluster: $RUN_DIR/cluster.json"
}

cmd_status() {
  need_engine
  if [ -z "$(docker ps -aq --filter "label=$LABEL")" ]; then
    echo "swarm: down (no containers labelled $LABEL)"
    return 0
  fi
  docker ps -a --filter "label=$LABEL" --format 'table {{.Names}}\t{{.Status}}\t{{.Image}}'
  if node_docker 1 node ls >/dev/null 2>&1; then
    node_docker 1 node ls --format 'table {{.Hostname}}\t{{.ID}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}'
  else
    echo "swarm: the manager's engine at $(sock 1) does not answer"
  fi
  [ -f "$RUN_DIR/cluster.json" ] && echo "cluster: $RUN_DIR/cluster.json" || echo "cluster: no $RUN_DIR/cluster.json"
}

# The images the offline catalog runs (not its build bases), as `images list` resolves them.
catalog_refs() {
  local out
  out=$(cd "$ROOT" && timeout 120 node bin/cascade.js images list --images offline) || die "cascade images list failed"
  local missing
  missing=$(awk '$1 != "base" && $1 != "node" && $2 == "missing" { print $3 }' <<<"$out")
  [ -z "$missing" ] || die "not built on the host: $missing (build them: CASCADE_IMAGES=offline node bin/cascade.js images build)"
  awk '$1 != "base" && $1 != "node" && $2 == "present" { print $3 }' <<<"$out"
}

cmd_load_images() {
  need_engine
  [ -f "$RUN_DIR/cluster.json" ] || die "no $RUN_DIR/cluster.json: run scripts/swarm.sh up first"
  local refs=("$@")
  if [ ${#refs[@]} -eq 0 ]; then mapfile -t refs < <(catalog_refs); fi
  [ ${#refs[@]} -gt 0 ] || die "no images to load"
  local t_all
  t_all=$(now)
  # Global: the EXIT trap runs after this function's locals are gone.
  LOAD_TMP=$(mktemp -d /var/tmp/cascade-swarm-load.XXXXXX)
  trap 'rm -rf "$LOAD_TMP"' EXIT
  local tmp=$LOAD_TMP
  for ref in "${refs[@]}"; do
    local id
    id=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null) || die "no image $ref on the host engine"
    local t0 need=() tagged=()
    t0=$(now)
    for n in "${NODES[@]}"; do
      local have
      have=$(node_docker "$n" image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
      if [ "$have" = "$id" ]; then continue; fi
      # Same content under another name: a tag is enough.
      if node_docker "$n" image inspect "$id" >/dev/null 2>&1; then
        node_docker "$n" tag "$id" "$ref"
        tagged+=("node-$n")
      else
        need+=("$n")
      fi
    done
    if [ ${#need[@]} -eq 0 ]; then
      echo "load-images: $ref present on every node${tagged:+ (tagged on ${tagged[*]})} ($(since "$t0") s)"
      continue
    fi
    timeout 300 docker save -o "$tmp/image.tar" "$ref" || die "docker save $ref failed"
    local t_save
    t_save=$(since "$t0")
    local pids=() n
    for n in "${need[@]}"; do
      NODE_TIMEOUT=600 node_docker "$n" load -q -i "$tmp/image.tar" >"$tmp/load-$n.log" 2>&1 &
      pids+=($!)
    done
    local i=0
    for n in "${need[@]}"; do
      wait "${pids[$i]}" || die "loading $ref into node-$n failed: $(cat "$tmp/load-$n.log")"
      i=$((i + 1))
      [ "$(node_docker "$n" image inspect -f '{{.Id}}' "$ref")" = "$id" ] || die "node-$n has $ref with another id after load"
    done
    rm -f "$tmp/image.tar"
    local size
    size=$(docker image inspect -f '{{.Size}}' "$ref" | awk '{ printf "%d MB", $1 / 1e6 }')
    echo "load-images: $ref ($size) into ${need[*]/#/node-}: $(since "$t0") s (save ${t_save} s)"
  done
  echo "load-images: done in $(since "$t_all") s"
}

# Cgroup directories an inner engine's containers may leave on the host when a node dies with
# them (the host's cgroup tree is mounted into the nodes): removed only if empty.
remove_cgroups() {
  local id dir
  for id in "$@"; do
    for dir in /sys/fs/cgroup/*/docker/"$id"; do
      [ -d "$dir" ] && rmdir "$dir" 2>/dev/null || true
    done
  done
}

cmd_down() {
  local t0
  t0=$(now)
  need_engine
  local inner=() n
  for n in "${NODES[@]}"; do
    [ -S "$(sock "$n")" ] || continue
    # Let each inner engine remove its own containers (and so their cgroups) before it dies.
    mapfile -t -O "${#inner[@]}" inner < <(NODE_TIMEOUT=10 node_docker "$n" ps -aq --no-trunc 2>/dev/null || true)
  done
  if [ -S "$(sock 1)" ]; then
    local services
    services=$(NODE_TIMEOUT=10 node_docker 1 service ls -q 2>/dev/null || true)
    [ -z "$services" ] || NODE_TIMEOUT=30 node_docker 1 service rm $services >/dev/null 2>&1 || true
  fi
  for n in "${NODES[@]}"; do
    [ -S "$(sock "$n")" ] || continue
    local ids
    ids=$(NODE_TIMEOUT=10 node_docker "$n" ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || NODE_TIMEOUT=60 node_docker "$n" rm -f $ids >/dev/null 2>&1 || true
  done
  local containers
  containers=$(docker ps -aq --filter "label=$LABEL")
  [ -z "$containers" ] || timeout 120 docker rm -f -v $containers >/dev/null
  local volumes
  volumes=$(docker volume ls -q --filter "label=$LABEL")
  [ -z "$volumes" ] || timeout 120 docker volume rm $volumes >/dev/null
  if docker network inspect "$NET" >/dev/null 2>&1; then timeout 60 docker network rm "$NET" >/dev/null; fi
  remove_cgroups "${inner[@]}"
  rm -rf "$RUN_DIR"
  # Check: nothing of ours left on the host engine.
  local left
  left=$(
    docker ps -a --filter "label=$LABEL" --format 'container {{.Names}}'
    docker ps -a --filter "name=$PREFIX" --format 'container {{.Names}}'
    docker volume ls --filter "label=$LABEL" --format 'volume {{.Name}}'
    docker volume ls --filter "name=$PREFIX" --format 'volume {{.Name}}'
    docker network ls --filter "label=$LABEL" --format 'network {{.Name}}'
    docker network ls --filter "name=^$NET\$" --format 'network {{.Name}}'
    [ -e "$RUN_DIR" ] && echo "directory $RUN_DIR"
    for id in "${inner[@]}"; do for d in /sys/fs/cgroup/*/docker/"$id"; do [ -d "$d" ] && echo "cgroup $d"; done; done
    true
  )
  if [ -n "$left" ]; then
    echo "swarm: down left these behind:" >&2
    sort -u <<<"$left" >&2
    exit 1
  fi
  echo "swarm: down in $(since "$t0") s; checked: no container, volume or network labelled $LABEL or named $PREFIX*/$NET, no $RUN_DIR"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
load-images)
  shift
  cmd_load_images "$@"
  ;;
*)
  echo "usage: scripts/swarm.sh up|down|status|load-images [image…]" >&2
  exit 2
  ;;
esac
