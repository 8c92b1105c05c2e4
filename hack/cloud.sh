#!/usr/bin/env bash
# Copyright 2026 The PiNet Authors. Licensed under the Apache License, Version 2.0.
#
# The local cloud: `cloud.sh up` installs what is missing, builds, and starts etcd, kube-apiserver,
# the manager, a compute node agent, a storage node agent (and libvirtd) in the background, then
# waits until the cloud is ready; `cloud.sh down` stops exactly the processes `up` started, by
# pid. State (etcd data, PKI, logs, instance files, volumes) lives in $PINET_DIR and survives
# down/up.
#
# Settings (environment): PINET_DIR (.pinet), PINET_ETCD_PORT (2379), PINET_APISERVER_PORT (6443),
# PINET_EC2_PORT (8773), PINET_S3_PORT (3333), PINET_DASHBOARD_PORT (8080), PINET_CONSOLE_PORT (8443), PINET_LIBVIRT_URI (qemu:///system; test:///default
# simulates the node), PINET_NODE_NAME (node-1), PINET_NODE_VCPUS / PINET_NODE_MEMORY_MIB
# (capacity overrides), PINET_NODE_MAX_INSTANCES (the node's instance quota, 64 when the node
# registers; set, it is applied to the Hypervisor on every `up`), PINET_SKIP_DEPS=1 (do not apt-get), PINET_NETWORK_MODE (vxlan; none gives
# guests no NIC), PINET_NETNS_PREFIX (pinet: the namespaces are <prefix>-node and <prefix>-world),
# PINET_PUBLIC_CIDR (198.51.100.0/24, the address pool routed from the world to the node),
# PINET_STORAGE_NODE_NAME (<node>-store), PINET_STORAGE_GIB (100: GiB of volumes the storage node
# may hold; backing files are sparse).
#
# The node's datapath lives in network namespace <prefix>-node: its underlay (a veth pair of its
# own, under0 10.255.0.1), and pub0, a veth to <prefix>-world, which plays the internet (wan0) and
# routes the address pool to the node. Nothing leaves those namespaces.
#
# Volumes live on a second agent, the storage node (hypervisor <node>-store, cordoned so that no
# instance lands on it, in the compute node's zone): it serves AoE on store0 in namespace
# <prefix>-store, a veth whose other end, store1 in <prefix>-node, is the compute agent's storage
# interface, where it attaches volumes to guests. Its files are under $PINET_DIR/storage.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DIR=${PINET_DIR:-$ROOT/.pinet}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ETCD_PORT=${PINET_ETCD_PORT:-2379}
ETCD_PEER_PORT=${PINET_ETCD_PEER_PORT:-$((ETCD_PORT + 1))}
API_PORT=${PINET_APISERVER_PORT:-6443}
EC2_PORT=${PINET_EC2_PORT:-8773}
S3_PORT=${PINET_S3_PORT:-3333}
DASHBOARD_PORT=${PINET_DASHBOARD_PORT:-8080}
MANAGER_PROBE_PORT=${PINET_MANAGER_PROBE_PORT:-8081}
MANAGER_METRICS_PORT=${PINET_MANAGER_METRICS_PORT:-8088}
AGENT_METRICS_PORT=${PINET_AGENT_METRICS_PORT:-8089}
AGENT_PROBE_PORT=${PINET_AGENT_PROBE_PORT:-8082}
CHAINS_METRICS_PORT=${PINET_CHAINS_METRICS_PORT:-8090}
CONSOLE_PORT=${PINET_CONSOLE_PORT:-8443}
NODE_AUTHZ_PORT=${PINET_NODE_AUTHORIZER_PORT:-8091}
LIBVIRT_URI=${PINET_LIBVIRT_URI:-qemu:///system}
NODE_NAME=${PINET_NODE_NAME:-node-1}
STORE_NAME=${PINET_STORAGE_NODE_NAME:-$NODE_NAME-store}
STORAGE_GIB=${PINET_STORAGE_GIB:-100}
REGION=${PINET_REGION:-pinet}
NETWORK_MODE=${PINET_NETWORK_MODE:-vxlan}
NETNS_PREFIX=${PINET_NETNS_PREFIX:-pinet}
NODE_NS=$NETNS_PREFIX-node
WORLD_NS=$NETNS_PREFIX-world
STORE_NS=$NETNS_PREFIX-store
PUBLIC_CIDR=${PINET_PUBLIC_CIDR:-198.51.100.0/24}
NODE_PUBLIC_IP=100.127.255.1
WORLD_IP=100.127.255.2
UNDERLAY_IP=10.255.0.1
PIDS=$DIR/pids
LOGS=$DIR/logs
KUBECTL="$ROOT/bin/kubectl --kubeconfig $DIR/kubeconfig"

log() { echo "pinet: $*" >&2; }
# running PID: the process exists and is not a zombie (a killed daemon whose parent is an init
# that has not reaped it yet still answers kill -0).
running() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }
alive() { [ -f "$PIDS/$1.pid" ] && running "$(cat "$PIDS/$1.pid")"; }

# start NAME CMD...: runs CMD in the background with its log in $LOGS/NAME.log, unless running.
start() {
  local name=$1; shift
  if alive "$name"; then
    log "$name already running (pid $(cat "$PIDS/$name.pid"))"
    return 0
  fi
  log "starting $name"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
}

# wait_for WHAT SECONDS CMD...: retries CMD until it succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "timed out waiting for $what; see $LOGS"
      return 1
    fi
    sleep 0.5
  done
}

up() {
  # Checked before anything starts: a bad quota would stop the agent half-way through `up`.
  if [ -n "${PINET_NODE_MAX_INSTANCES:-}" ] &&
    { ! [[ $PINET_NODE_MAX_INSTANCES =~ ^[1-9][0-9]{0,3}$ ]] || [ "$PINET_NODE_MAX_INSTANCES" -gt 4096 ]; }; then
    log "PINET_NODE_MAX_INSTANCES must be a whole number from 1 to 4096, not '$PINET_NODE_MAX_INSTANCES'"
    exit 2
  fi
  if ! [[ $STORAGE_GIB =~ ^[1-9][0-9]*$ ]]; then
    log "PINET_STORAGE_GIB must be a whole number of GiB above 0, not '$STORAGE_GIB'"
    return 2
  fi
  mkdir -p "$PIDS" "$LOGS" "$DIR/state"
  if [ "${PINET_SKIP_DEPS:-}" != 1 ]; then
    "$ROOT/hack/deps.sh"
  fi
  "$ROOT/hack/tools.sh"
  make -s -C "$ROOT" build

  "$ROOT/bin/pinet-pki" -dir "$DIR/pki" -kubeconfig-dir "$DIR" \
    -server "https://127.0.0.1:$API_PORT" -namespace admin -nodes "$NODE_NAME,$STORE_NAME" \
    -node-authorizer-url "https://127.0.0.1:$NODE_AUTHZ_PORT"

  # An etcd and API server an older `make up` started without TLS and encryption start again with them.
  restart_if_lacking kube-apiserver --encryption-provider-config
  # ... and without the node authorizer (node agents' reads kept to their node).
  restart_if_lacking kube-apiserver --authorization-config
  restart_if_lacking etcd --client-cert-auth
  # etcd serves only TLS clients with a certificate of its own CA (pki/etcd): the API server.
  local etcd_pki=$DIR/pki/etcd
  local etcd_client=(--cacert "$etcd_pki/ca.crt" --cert "$etcd_pki/apiserver-etcd-client.crt" --key "$etcd_pki/apiserver-etcd-client.key")
  start etcd "$ROOT/bin/etcd" --name pinet --data-dir "$DIR/etcd" \
    --listen-client-urls "https://127.0.0.1:$ETCD_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_PORT" \
    --cert-file "$etcd_pki/server.crt" --key-file "$etcd_pki/server.key" \
    --client-cert-auth --trusted-ca-file "$etcd_pki/ca.crt" \
    --listen-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "pinet=https://127.0.0.1:$ETCD_PEER_PORT" \
    --peer-cert-file "$etcd_pki/server.crt" --peer-key-file "$etcd_pki/server.key" \
    --peer-client-cert-auth --peer-trusted-ca-file "$etcd_pki/ca.crt" --log-level warn
  wait_for etcd 60 curl -sf "${etcd_client[@]}" "https://127.0.0.1:$ETCD_PORT/health"
  advertise_etcd_peer_tls "${etcd_client[@]}"

  start kube-apiserver "$ROOT/bin/kube-apiserver" --etcd-servers "https://127.0.0.1:$ETCD_PORT" \
    --etcd-cafile "$etcd_pki/ca.crt" --etcd-certfile "$etcd_pki/apiserver-etcd-client.crt" \
    --etcd-keyfile "$etcd_pki/apiserver-etcd-client.key" \
    --encryption-provider-config "$DIR/pki/encryption-config.yaml" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
    --client-ca-file "$DIR/pki/ca.crt" --authorization-config "$DIR/pki/authorization-config.yaml" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$DIR/pki/sa.pub" --service-account-signing-key-file "$DIR/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --disable-admission-plugins ServiceAccount \
    --endpoint-reconciler-type none --advertise-address 127.0.0.1 --cert-dir "$DIR/pki"
  wait_for kube-apiserver 120 curl -sf --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" \
    --key "$DIR/pki/admin.key" "https://127.0.0.1:$API_PORT/readyz"
  encrypt_old_secrets

  # The controller manager finishes namespace deletions, collects garbage and signs user
  # certificate requests; it serves nothing.
  start kube-controller-manager "$ROOT/bin/kube-controller-manager" --kubeconfig "$DIR/kubeconfig" \
    --secure-port 0 --leader-elect=false --use-service-account-credentials=false \
    --service-account-private-key-file "$DIR/pki/sa.key" --root-ca-file "$DIR/pki/ca.crt" \
    --cluster-signing-cert-file "$DIR/pki/ca.crt" --cluster-signing-key-file "$DIR/pki/ca.key" \
    --controllers namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller,certificatesigningrequest-signing-controller,certificatesigningrequest-approving-controller,certificatesigningrequest-cleaner-controller

  log "installing CRDs and RBAC"
  "$ROOT/bin/kustomize" build config/local | $KUBECTL apply --server-side --force-conflicts -f - >/dev/null
  $KUBECTL wait --for condition=Established --timeout 60s crd -l app.kubernetes.io/part-of=pinet >/dev/null

  if [[ $LIBVIRT_URI == qemu:///system ]]; then
    "$ROOT/hack/libvirtd.sh" "$PIDS"
    open_state_to_qemu
  fi

  # A manager started by an older `up` serves no metrics: start it again with them.
  restart_if_lacking manager --metrics-bind-address
  restart_if_lacking manager --node-authorizer-bind-address
  start manager "$ROOT/bin/manager" --kubeconfig "$DIR/manager.kubeconfig" \
    --node-authorizer-bind-address "127.0.0.1:$NODE_AUTHZ_PORT" --node-authorizer-cert-dir "$DIR/pki/node-authorizer" \
    --node-authorizer-client-ca "$DIR/pki/node-authorizer/ca.crt" \
    --health-probe-bind-address "127.0.0.1:$MANAGER_PROBE_PORT" --region "$REGION" \
    --metrics-bind-address "127.0.0.1:$MANAGER_METRICS_PORT" \
    --s3-bind-address "127.0.0.1:$S3_PORT" --s3-data-dir "$DIR/objects" \
    --ec2-bind-address "127.0.0.1:$EC2_PORT" --dashboard-bind-address "127.0.0.1:$DASHBOARD_PORT"
  # The agent acts as its node's own identity, pinet:node:$NODE_NAME (group pinet:nodeagents).
  agent_args=(--kubeconfig "$DIR/nodeagent-$NODE_NAME.kubeconfig" --node-name "$NODE_NAME" --libvirt-uri "$LIBVIRT_URI"
    --state-dir "$DIR/state" --health-probe-bind-address "127.0.0.1:$AGENT_PROBE_PORT"
    --metrics-bind-address "127.0.0.1:$AGENT_METRICS_PORT"
    --s3-url "http://127.0.0.1:$S3_PORT" --region "$REGION"
    --console-bind-address "127.0.0.1:$CONSOLE_PORT" --client-ca-file "$DIR/pki/ca.crt")
  [ -n "${PINET_NODE_VCPUS:-}" ] && agent_args+=(--vcpus "$PINET_NODE_VCPUS")
  [ -n "${PINET_NODE_MEMORY_MIB:-}" ] && agent_args+=(--memory-mib "$PINET_NODE_MEMORY_MIB")
  [ -n "${PINET_NODE_MAX_INSTANCES:-}" ] && agent_args+=(--max-instances "$PINET_NODE_MAX_INSTANCES")
  if [[ $NETWORK_MODE != none ]]; then
    setup_netns
    agent_args+=(--network-mode "$NETWORK_MODE" --datapath-netns "/run/netns/$NODE_NS"
      --underlay-interface under0 --underlay-ip "$UNDERLAY_IP" --public-interface pub0)
    restart_if_lacking nodeagent --datapath-netns
  fi
  restart_if_lacking nodeagent --metrics-bind-address
  setup_storage_net
  agent_args+=(--storage-interface store1 --storage-netns "$NODE_NS")
  restart_if_lacking nodeagent --storage-interface
  # The attached volumes' chains live in a process of their own, so that running guests keep
  # their volumes when the agent restarts. (An agent from an older `up` served them itself.)
  agent_args+=(--external-volume-chains)
  restart_if_lacking nodeagent --external-volume-chains
  start volumechains "$ROOT/bin/nodeagent" volume-chains --state-dir "$DIR/state" \
    --storage-interface store1 --storage-netns "$NODE_NS" --metrics-bind-address "127.0.0.1:$CHAINS_METRICS_PORT"
  wait_for "volume chains" 30 test -S "$DIR/state/nbd/chains.ctl"
  start nodeagent "$ROOT/bin/nodeagent" "${agent_args[@]}"

  wait_for manager 60 curl -sf "http://127.0.0.1:$MANAGER_PROBE_PORT/readyz"
  wait_for "hypervisor $NODE_NAME" 120 $KUBECTL wait --for condition=Ready --timeout 5s "hypervisor/$NODE_NAME"
  if [ -n "${PINET_NODE_MAX_INSTANCES:-}" ]; then
    # The agent records its quota only when it registers the node; a node from an earlier `up`
    # gets the new one here (the spec is the operator's).
    $KUBECTL patch "hypervisor/$NODE_NAME" --type merge \
      -p "{\"spec\":{\"maxInstances\":$PINET_NODE_MAX_INSTANCES}}" >/dev/null
  fi
  start_storage_node
  wait_for "instance types" 60 $KUBECTL get instancetype m1.small

  log "seeding project admin and admin user admin"
  $KUBECTL apply -f - >/dev/null <<YAML
apiVersion: cloud.pinet.io/v1alpha1
kind: Project
metadata: {name: admin}
spec: {description: "The cloud operators' project", manager: admin}
---
apiVersion: cloud.pinet.io/v1alpha1
kind: User
metadata: {name: admin}
spec: {admin: true, projects: [admin]}
YAML
  wait_for "project admin" 60 $KUBECTL wait --for condition=Ready --timeout 5s project/admin
  wait_for "user admin" 60 $KUBECTL wait --for condition=Ready --timeout 5s user/admin
  $KUBECTL get namespace kube-system -o jsonpath='{.metadata.uid}' > "$DIR/cloud-id"
  write_rc
  register_sample_image
  seed_address_pool
  log "ready: source $DIR/pinetrc; kubectl get pinet -A"
  log "dashboard: http://127.0.0.1:$DASHBOARD_PORT (sign in with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from pinetrc)"
}

# open_state_to_qemu lets QEMU, which runs as libvirt's unprivileged libvirt-qemu user, reach the
# node agent's state dir (disks, images, meta-data disks): a directory above it that others may
# not pass through (a checkout under /root, a 0700 temporary directory) gets an ACL entry letting
# that one user pass (not list). The agent makes its directories 0711 and its files 0600; those
# an older agent made are changed to match.
open_state_to_qemu() {
  local d=$DIR/state p mode sub
  chmod 0711 "$d"
  for sub in instances images; do
    [ -d "$d/$sub" ] || continue
    find "$d/$sub" -type d ! -perm 0711 -exec chmod 0711 {} +
    find "$d/$sub" -type f -perm /0077 -exec chmod go-rwx {} +
  done
  p=$d
  while p=$(dirname "$p"); [ "$p" != / ]; do
    mode=$(stat -c %a "$p")
    (( 8#$mode & 1 )) && continue
    command -v setfacl >/dev/null || { log "setfacl is missing (apt-get install acl): libvirt-qemu cannot reach $d"; return 1; }
    setfacl -m u:libvirt-qemu:x "$p"
  done
}

# advertise_etcd_peer_tls CURL_TLS_ARGS...: the member an older `make up` created still advertises
# its plain http peer URL (a single member never dials it); it now advertises the https one.
advertise_etcd_peer_tls() {
  local api=https://127.0.0.1:$ETCD_PORT/v3/cluster/member members id
  members=$(curl -sf "$@" -X POST "$api/list" -d '{}')
  [[ $members == *'"peerURLs":["http://'* ]] || return 0
  id=$(grep -o '"ID":"[0-9]*"' <<<"$members" | head -1 | cut -d'"' -f4)
  log "etcd: advertising the https peer URL"
  curl -sf "$@" -X POST "$api/update" -d "{\"ID\":\"$id\",\"peerURLs\":[\"https://127.0.0.1:$ETCD_PEER_PORT\"]}" >/dev/null
}

# encrypt_old_secrets rewrites, once, the Secrets a cloud made before it encrypted Secrets at rest
# (an older `make up`), so they are stored encrypted too. It runs before `up` starts controllers;
# if a Secret changed meanwhile (a manager still running), the next `up` tries again.
encrypt_old_secrets() {
  local done=$DIR/pki/secrets-encrypted
  [ -f "$done" ] && return 0
  if [ -n "$($KUBECTL get secrets --all-namespaces -o name)" ]; then
    log "encrypting the Secrets stored so far"
    if ! $KUBECTL get secrets --all-namespaces -o json | $KUBECTL replace -f - >/dev/null; then
      log "some Secrets could not be rewritten encrypted yet; the next up tries again"
      return 0
    fi
  fi
  touch "$done"
}

# register_sample_image builds the sample image (once), bundles it as the admin user, uploads it
# to the admin project's bucket and registers it (config/samples/image.yaml), unless it is already
# available.
register_sample_image() {
  if [ "$($KUBECTL get image sample -n admin -o jsonpath='{.status.state}' 2>/dev/null)" = available ]; then
    # Settings made since (configDrive, say) follow the file on a cloud brought up again.
    $KUBECTL apply -n admin -f config/samples/image.yaml >/dev/null
    return 0
  fi
  log "building the sample image (first time: a minute)"
  local out=$ROOT/.cache/guestimage bundles=$DIR/bundles
  "$ROOT/hack/guestimage/build.sh" "$out" >>"$LOGS/guestimage.log" 2>&1 || { log "building the sample image failed; see $LOGS/guestimage.log"; return 1; }
  log "bundling and uploading the sample image"
  (
    set -e
    # shellcheck disable=SC1091
    source "$DIR/pinetrc"
    for part in kernel:vmlinuz:sample-kernel ramdisk:initrd.img:sample-ramdisk machine:root.img:sample; do
      IFS=: read -r type file prefix <<<"$part"
      "$ROOT/bin/pinetctl" bundle-image --image "$out/$file" --type "$type" --prefix "$prefix" -d "$bundles" >/dev/null
      "$ROOT/bin/pinetctl" upload-bundle --bucket pinet-images --prefix sample --manifest "$bundles/$prefix.manifest.xml" >/dev/null
    done
  ) >>"$LOGS/guestimage.log" 2>&1 || { log "uploading the sample image failed; see $LOGS/guestimage.log"; return 1; }
  $KUBECTL apply -n admin -f config/samples/image.yaml >/dev/null
  wait_for "the sample image" 300 $KUBECTL wait --for condition=Ready --timeout 5s -n admin image/sample
}

# write_rc writes $DIR/pinetrc: the admin user's credentials in project admin (from pinetctl), the
# admin kubeconfig, the dashboard's URL, the manager's, the agent's and the volume chains' metrics
# URLs, and bin/ on the PATH.
write_rc() {
  "$ROOT/bin/pinetctl" --kubeconfig "$DIR/kubeconfig" user credentials admin --project admin \
    --dir "$DIR" --ec2-url "http://127.0.0.1:$EC2_PORT" --s3-url "http://127.0.0.1:$S3_PORT" \
    --region "$REGION" --rc-kubeconfig "$DIR/kubeconfig"
  echo "export PINET_DASHBOARD_URL=http://127.0.0.1:$DASHBOARD_PORT" >> "$DIR/pinetrc"
  echo "export PINET_METRICS_URL=http://127.0.0.1:$MANAGER_METRICS_PORT/metrics" >> "$DIR/pinetrc"
  echo "export PINET_AGENT_METRICS_URL=http://127.0.0.1:$AGENT_METRICS_PORT/metrics" >> "$DIR/pinetrc"
  echo "export PINET_CHAINS_METRICS_URL=http://127.0.0.1:$CHAINS_METRICS_PORT/metrics" >> "$DIR/pinetrc"
  echo "export PATH=$ROOT/bin:\$PATH" >> "$DIR/pinetrc"
}

# setup_netns makes the node's datapath namespace and the world namespace, once: `up` twice
# finds them made.
setup_netns() {
  local ns
  for ns in "$NODE_NS" "$WORLD_NS"; do
    [ -e "/run/netns/$ns" ] || { log "creating network namespace $ns"; ip netns add "$ns"; }
    ip -n "$ns" link set lo up
  done
  if ! ip -n "$NODE_NS" link show under0 >/dev/null 2>&1; then
    ip -n "$NODE_NS" link add under0 type veth peer name under1
    ip -n "$NODE_NS" addr add "$UNDERLAY_IP/24" dev under0
  fi
  ip -n "$NODE_NS" link set under1 up
  ip -n "$NODE_NS" link set under0 up
  if ! ip -n "$NODE_NS" link show pub0 >/dev/null 2>&1; then
    ip -n "$NODE_NS" link add pub0 type veth peer name wan0 netns "$WORLD_NS"
    ip -n "$NODE_NS" addr add "$NODE_PUBLIC_IP/30" dev pub0
    ip -n "$WORLD_NS" addr add "$WORLD_IP/30" dev wan0
  fi
  ip -n "$NODE_NS" link set pub0 up
  ip -n "$WORLD_NS" link set wan0 up
  ip -n "$NODE_NS" route replace default via "$WORLD_IP"
  ip -n "$WORLD_NS" route replace "$PUBLIC_CIDR" via "$NODE_PUBLIC_IP"
  ip netns exec "$NODE_NS" sysctl -qw net.ipv4.ip_forward=1
}

# setup_storage_net makes the storage network, once: namespace <prefix>-store and a veth from its
# store0 (where the storage node serves AoE) to store1 in <prefix>-node (where the compute node
# attaches). Agents that still hold an older pair (a namespace removed behind their back) restart.
setup_storage_net() {
  local ns
  for ns in "$NODE_NS" "$STORE_NS"; do
    [ -e "/run/netns/$ns" ] || { log "creating network namespace $ns"; ip netns add "$ns"; }
    ip -n "$ns" link set lo up
  done
  if ! ip -n "$NODE_NS" link show store1 >/dev/null 2>&1 || ! ip -n "$STORE_NS" link show store0 >/dev/null 2>&1; then
    log "creating the storage network (store0 in $STORE_NS, store1 in $NODE_NS)"
    ip -n "$NODE_NS" link del store1 2>/dev/null || true
    ip -n "$STORE_NS" link del store0 2>/dev/null || true
    ip -n "$NODE_NS" link add store1 type veth peer name store0 netns "$STORE_NS"
    stop_process storageagent
    stop_process nodeagent
    stop_process volumechains
  fi
  ip -n "$NODE_NS" link set store1 up
  ip -n "$STORE_NS" link set store0 up
}

# start_storage_node starts the storage node's agent as its own identity, pinet:node:$STORE_NAME.
# Its Hypervisor is made first, in the compute node's zone and cordoned (spec.unschedulable):
# the agent keeps the spec it finds, and no instance is placed on a node with no datapath.
start_storage_node() {
  local zone
  zone=$($KUBECTL get hypervisor "$NODE_NAME" -o jsonpath='{.spec.zone}')
  $KUBECTL apply -f - >/dev/null <<YAML
apiVersion: cloud.pinet.io/v1alpha1
kind: Hypervisor
metadata: {name: $STORE_NAME}
spec: {zone: $zone, unschedulable: true}
YAML
  mkdir -p "$DIR/storage"
  restart_if_lacking storageagent "--storage-capacity-gib=$STORAGE_GIB"
  start storageagent "$ROOT/bin/nodeagent" --kubeconfig "$DIR/nodeagent-$STORE_NAME.kubeconfig" \
    --node-name "$STORE_NAME" --zone "$zone" --libvirt-uri "$LIBVIRT_URI" --state-dir "$DIR/storage" \
    --health-probe-bind-address 0 --console-bind-address "" \
    --s3-url "http://127.0.0.1:$S3_PORT" --region "$REGION" \
    "--storage-capacity-gib=$STORAGE_GIB" --storage-dir "$DIR/storage/volumes" \
    --storage-interface store0 --storage-netns "$STORE_NS"
  wait_for "storage node $STORE_NAME" 120 $KUBECTL wait --for condition=Ready --timeout 5s "hypervisor/$STORE_NAME"
}

# seed_address_pool makes the default pool of public addresses, routed to the node from the world.
seed_address_pool() {
  [[ $NETWORK_MODE != none ]] || return 0
  local net=${PUBLIC_CIDR%/*}
  $KUBECTL apply -f - >/dev/null <<YAML
apiVersion: cloud.pinet.io/v1alpha1
kind: AddressPool
metadata: {name: public}
spec:
  default: true
  cidrs: [$PUBLIC_CIDR]
  exclude: [$net]
YAML
}

# teardown_netns removes the namespaces `up` made (their devices go with them).
teardown_netns() {
  local ns
  for ns in "$NODE_NS" "$WORLD_NS" "$STORE_NS"; do
    if [ -e "/run/netns/$ns" ]; then
      log "removing network namespace $ns"
      ip netns del "$ns"
    fi
  done
}

# stop_guests destroys the running guests this cloud's agent started (their definitions and disks
# stay; the agent starts them again on the next `up`). Guests of other clouds are left alone.
stop_guests() {
  [[ $LIBVIRT_URI == qemu:///* ]] && [ -s "$DIR/cloud-id" ] || return 0
  local id dom
  id=$(cat "$DIR/cloud-id")
  virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1 || return 0
  for dom in $(virsh -c "$LIBVIRT_URI" list --name 2>/dev/null); do
    if virsh -c "$LIBVIRT_URI" metadata "$dom" https://pinet.io/xmlns/domain/1 2>/dev/null | grep -q "<cloud>$id</cloud>"; then
      log "stopping guest $dom"
      virsh -c "$LIBVIRT_URI" destroy "$dom" >/dev/null 2>&1 || true
    fi
  done
}

down() {
  [ -d "$PIDS" ] || { log "nothing to stop"; teardown_netns; return 0; }
  stop_process nodeagent
  stop_process storageagent
  stop_guests
  # After the guests: their volumes' chains end with it.
  stop_process volumechains
  for name in manager kube-controller-manager kube-apiserver etcd libvirtd virtlogd; do
    stop_process "$name"
  done
  teardown_netns
}

# restart_if_lacking NAME FLAG: stops NAME if it runs without FLAG, so `up` starts it as it is now.
restart_if_lacking() {
  local name=$1 flag=$2
  alive "$name" || return 0
  tr '\0' '\n' < "/proc/$(cat "$PIDS/$name.pid")/cmdline" | grep -qx -- "$flag" && return 0
  stop_process "$name"
}

stop_process() {
  local name=$1 pid
  [ -f "$PIDS/$name.pid" ] || return 0
  pid=$(cat "$PIDS/$name.pid")
  if running "$pid"; then
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do running "$pid" || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name.pid"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
