#!/bin/sh
# Copyright 2026 The PiNet Authors. Licensed under the Apache License, Version 2.0.
#
# /init of PiNet's sample initramfs. It loads the kernel modules the guest needs (the Debian cloud
# kernel has virtio as modules), mounts the kernel filesystems, finds the root disk (root= on the
# kernel command line, else the first virtio disk), mounts it and switch_roots into its init. With
# no usable root disk it runs the guest program from the initramfs itself, so the initramfs alone
# boots to the same banner.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

say() { echo "pinet initramfs: $*"; }

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid devtmpfs /dev

# The list is in dependency order; the build leaves out what the kernel has built in.
while read -r mod; do
  [ -n "$mod" ] || continue
  insmod "/lib/modules/$mod.ko" || say "insmod $mod failed"
done < /etc/pinet/modules

root=
init=/sbin/pinet-init
set -f # the command line is split into words, never expanded as file names
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root=${arg#root=} ;;
    init=*) init=${arg#init=} ;;
  esac
done
set +f

# has_virtio_disk tells whether a virtio block device (virtio id 2) exists, so a guest without
# one does not wait for /dev/vda.
has_virtio_disk() {
  for f in /sys/bus/virtio/devices/*/device; do
    [ "$(cat "$f" 2>/dev/null)" = 0x0002 ] && return 0
  done
  return 1
}

# wait_for DEVICE: up to five seconds for a disk driver to register it.
wait_for() {
  i=0
  while [ ! -b "$1" ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  [ -b "$1" ]
}

dev=
case "$root" in
  UUID=*|LABEL=*) wait_for /dev/vda; dev=$(findfs "$root") ;;
  /dev/*) dev=$root ;;
  '') has_virtio_disk && dev=/dev/vda ;;
  *) say "ignoring root=$root: want /dev/NAME, UUID= or LABEL=" ;;
esac

mkdir -p /newroot
if [ -n "$dev" ] && wait_for "$dev" && mount -o rw "$dev" /newroot 2>/dev/null; then
  if [ -x "/newroot$init" ]; then
    say "switching to $dev, running $init"
    mount --move /dev /newroot/dev
    mount --move /sys /newroot/sys
    mount --move /proc /newroot/proc
    exec switch_root /newroot "$init"
  fi
  say "$dev has no $init"
  umount /newroot
elif [ -n "$dev" ]; then
  say "cannot mount $dev"
fi
say "no root disk; running the guest program from the initramfs"
exec /sbin/pinet-init
