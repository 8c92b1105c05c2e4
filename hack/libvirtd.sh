#!/usr/bin/env bash
# Copyright 2026 The PiNet Authors. Licensed under the Apache License, Version 2.0.
#
# Starts virtlogd and libvirtd without systemd, if they are not running. With a pid directory as
# its argument it records the pids of the daemons it started there, so `make down` stops exactly
# those. Guests run as root (qemu.conf), so the libvirt-qemu user only has to exist.
set -euo pipefail
piddir=${1:-}

getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd --system --no-create-home -g libvirt-qemu -s /usr/sbin/nologin libvirt-qemu
conf=/etc/libvirt/qemu.conf
if ! grep -q '^user = "root"' "$conf"; then
  printf '\n# Set by PiNet hack/libvirtd.sh\nuser = "root"\ngroup = "root"\n' >> "$conf"
fi
mkdir -p /run/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu

# alive PIDFILE: its process exists and is not a zombie (a killed daemon whose parent is an init
# that has not reaped it yet still answers kill -0).
alive() {
  local st
  [ -f "$1" ] && st=$(ps -o stat= -p "$(cat "$1")" 2>/dev/null) && [[ $st != Z* ]]
}

if ! alive /run/virtlogd.pid; then
  virtlogd -d -p /run/virtlogd.pid
  [ -n "$piddir" ] && { sleep 0.2; cp /run/virtlogd.pid "$piddir/virtlogd.pid"; }
fi
if ! alive /run/libvirtd.pid; then
  libvirtd -d -p /run/libvirtd.pid
  [ -n "$piddir" ] && { sleep 0.2; cp /run/libvirtd.pid "$piddir/libvirtd.pid"; }
fi
for _ in $(seq 1 100); do
  if virsh -c qemu:///system version >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.1
done
echo "libvirtd did not answer on qemu:///system" >&2
exit 1
