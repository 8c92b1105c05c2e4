#!/usr/bin/env bash
# Copyright 2026 The PiNet Authors. Licensed under the Apache License, Version 2.0.
#
# Starts virtlogd and libvirtd without systemd, if they are not running. With a pid directory as
# its argument it records the pids of the daemons it started there, so `make down` stops exactly
# those. Guests do not run as root: QEMU runs as the libvirt-qemu system user, and libvirt hands
# each guest's files (disks, kernel, initrd) to that user while the guest runs (dynamic_ownership,
# remembering and restoring the previous owner).
set -euo pipefail
piddir=${1:-}

getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd --system --no-create-home -g libvirt-qemu -s /usr/sbin/nologin libvirt-qemu
conf=/etc/libvirt/qemu.conf
settings='user = "libvirt-qemu"
group = "libvirt-qemu"
dynamic_ownership = 1
remember_owner = 1'
touch "$conf"
conf_changed=
# libvirt takes the first of repeated settings, so earlier ones (an older script's root) go.
if [ "$(grep -E '^[[:space:]]*(user|group|dynamic_ownership|remember_owner)[[:space:]]*=' "$conf")" != "$settings" ]; then
  sed -i -E '/^[[:space:]]*(user|group|dynamic_ownership|remember_owner)[[:space:]]*=/d; /^# Set by PiNet hack\/libvirtd.sh/d' "$conf"
  printf '\n# Set by PiNet hack/libvirtd.sh\n%s\n' "$settings" >> "$conf"
  conf_changed=1
fi
mkdir -p /run/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu
# QEMU's user opens /dev/kvm through the kvm group, as udev arranges on a systemd host; libvirt
# probes QEMU again on every call while that user cannot open it.
if [ -e /dev/kvm ]; then
  getent group kvm >/dev/null || groupadd --system kvm
  id -nG libvirt-qemu | grep -qw kvm || usermod -a -G kvm libvirt-qemu
  chgrp kvm /dev/kvm
  chmod 0660 /dev/kvm
fi

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
# A libvirtd this cloud started before qemu.conf changed restarts to read it (guests keep running);
# one started by someone else is left alone.
if [ -n "$conf_changed" ] && alive /run/libvirtd.pid; then
  if [ -n "$piddir" ] && cmp -s /run/libvirtd.pid "$piddir/libvirtd.pid"; then
    kill "$(cat /run/libvirtd.pid)"
    for _ in $(seq 1 100); do alive /run/libvirtd.pid || break; sleep 0.1; done
  else
    echo "libvirtd.sh: libvirtd runs with the previous $conf; guests run as root until it restarts" >&2
  fi
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
