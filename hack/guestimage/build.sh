#!/usr/bin/env bash
# Copyright 2026 The PiNet Authors. Licensed under the Apache License, Version 2.0.
#
# build.sh OUTDIR builds PiNet's bootable sample image from Debian packages, with no other
# download:
#   OUTDIR/vmlinuz     the Debian cloud kernel (registered as an aki- image)
#   OUTDIR/initrd.img  a gzip'd cpio initramfs with static busybox, the virtio/AoE/ACPI modules and
#                      an /init that mounts the root disk or runs the guest program (an ari- image)
#   OUTDIR/root.img    a small ext4 filesystem with busybox, the guest program as
#                      /sbin/pinet-init and the dropbear ssh server with only the shared
#                      libraries it needs (an ami- image)
# It runs as root on Debian 12 (apt-get, mke2fs -d and cpio need to own the files as root) and is
# idempotent: the .debs are kept in OUTDIR/cache (delete it to pick up a newer kernel), and each
# output is only rebuilt when one of its inputs is newer. All temporary work stays in OUTDIR/work.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
say() { echo "guestimage: $*"; }
die() { echo "guestimage: $*" >&2; exit 1; }

[ $# -eq 1 ] || usage
[ "$(id -u)" = 0 ] || die "run as root: the image's files must belong to root"
for tool in apt-get apt-cache dpkg-deb readelf chroot cpio gzip mke2fs flock go; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=$out/cache
work=$out/work
mkdir -p "$cache" "$work"

# One build at a time per OUTDIR: tests build on demand, possibly from several processes.
exec 9>"$out/.lock"
flock 9

# The guest's modules, in load order; build adds their dependencies and drops built-in ones.
# button and evdev deliver the ACPI power button to the guest program.
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  failover net_failover virtio_net virtio_blk aoe button evdev)

# stale OUTPUT INPUT... succeeds when OUTPUT is missing or older than an input.
stale() {
  local target=$1 input
  shift
  [ -e "$target" ] || return 0
  for input in "$@"; do
    [ "$input" -nt "$target" ] && return 0
  done
  return 1
}

# fetch PACKAGE prints the path of PACKAGE's .deb in the cache, downloading it when absent.
fetch() {
  local pkg=$1 debs
  debs=("$cache/${pkg}"_*.deb)
  if [ ! -e "${debs[0]}" ]; then
    say "downloading $pkg" >&2
    (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
      die "apt-get download $pkg failed (run apt-get update?)"
    debs=("$cache/${pkg}"_*.deb)
  fi
  echo "${debs[-1]}"
}

# kernel_package prints the versioned cloud kernel package: the one already cached, else the one
# linux-image-cloud-amd64 (a metapackage) depends on.
kernel_package() {
  local cached
  cached=$(ls -v "$cache"/linux-image-[0-9]*-cloud-amd64_*.deb 2>/dev/null | tail -n 1 || true)
  if [ -n "$cached" ]; then
    basename "$cached" | cut -d_ -f1
    return
  fi
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }' |
    grep . || die "cannot resolve linux-image-cloud-amd64 (run apt-get update?)"
}

# ssh_packages prints dropbear-bin and the packages it depends on, recursively: the list cached
# from an earlier build, else apt-cache's answer, which is then cached with the .debs.
ssh_packages() {
  local list=$cache/dropbear.packages
  if [ ! -s "$list" ]; then
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances dropbear-bin 2>/dev/null |
      awk '/^[a-z0-9]/ { print $1 }' | LC_ALL=C sort -u > "$list.tmp"
    grep -qx dropbear-bin "$list.tmp" || { rm -f "$list.tmp"; die "cannot resolve dropbear-bin (run apt-get update?)"; }
    mv "$list.tmp" "$list"
  fi
  cat "$list"
}

# extract DIR DEB... unpacks the DEBs into DIR unless DIR holds an unpacking at least as new.
extract() {
  local dir=$1 deb
  shift
  if stale "$dir/.unpacked" "$@"; then
    rm -rf "$dir"
    mkdir -p "$dir"
    for deb in "$@"; do
      dpkg-deb -x "$deb" "$dir"
      say "unpacked $(basename "$deb")"
    done
    touch "$dir/.unpacked"
  fi
}

kpkg=$(kernel_package)
kdeb=$(fetch "$kpkg")
bbdeb=$(fetch busybox-static)
mapfile -t sshpkgs < <(ssh_packages)
sshdebs=()
for p in "${sshpkgs[@]}"; do
  sshdebs+=("$(fetch "$p")")
done
extract "$work/kernel" "$kdeb"
extract "$work/busybox" "$bbdeb"
extract "$work/ssh" "${sshdebs[@]}"
kver=${kpkg#linux-image-}
kdir=$work/kernel/lib/modules/$kver
bb=$work/busybox/bin/busybox
[ -f "$kdir/modules.order" ] || die "$kdeb has no modules for $kver"

# The kernel .deb ships no modules.dep (its postinst runs depmod); busybox's depmod makes one.
if stale "$kdir/modules.dep" "$work/kernel/.unpacked"; then
  "$bb" depmod -b "$work/kernel" "$kver"
fi

# module_order appends MODULE's dependencies, then MODULE, to the load list (once each).
declare -A seen=()
order=()
module_order() {
  local name=$1 rel dep
  [ -z "${seen[$name]:-}" ] || return 0
  seen[$name]=1
  if grep -q "/$name\.ko\$" "$kdir/modules.builtin"; then
    return 0
  fi
  rel=$(grep -m1 "/$name\.ko:" "$kdir/modules.dep" | cut -d: -f1) ||
    die "module $name is not in kernel $kver"
  for dep in $(grep -m1 "^$rel:" "$kdir/modules.dep" | cut -d: -f2); do
    module_order "$(basename "$dep" .ko)"
  done
  order+=("$name:$rel")
}
for m in "${modules[@]}"; do
  module_order "$m"
done

# The guest program, static so it runs without a C library.
init_bin=$work/pinet-init
mapfile -t init_sources < <(find "$here/init" -name '*.go' ! -name '*_test.go')
if stale "$init_bin" "${init_sources[@]}" "$here/../../go.mod"; then
  say "building the guest program"
  (cd "$here/init" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 \
    go build -trimpath -ldflags='-s -w' -o "$init_bin.tmp" .)
  mv "$init_bin.tmp" "$init_bin"
fi

# stage_common DIR lays out what the initramfs and the root filesystem share: busybox with its
# applet links, the guest program as init and as shutdown, the DHCP script, device nodes.
stage_common() {
  local dir=$1 applet
  rm -rf "$dir"
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,usr/share/udhcpc,etc,dev,proc,sys,run,tmp,root}
  chmod 1777 "$dir/tmp"
  chmod 0700 "$dir/root"
  install -m 0755 "$bb" "$dir/bin/busybox"
  for applet in $("$bb" --list-full); do
    case "$applet" in
      linuxrc|sbin/init|bin/busybox) continue ;;
    esac
    mkdir -p "$dir/$(dirname "$applet")"
    ln -sf /bin/busybox "$dir/$applet"
  done
  install -m 0755 "$init_bin" "$dir/sbin/pinet-init"
  ln -sf pinet-init "$dir/sbin/init"
  ln -sf pinet-init "$dir/sbin/shutdown"
  install -m 0755 "$here/udhcpc.script" "$dir/usr/share/udhcpc/default.script"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$dir/etc/passwd"
  printf 'root:x:0:\n' > "$dir/etc/group"
  : > "$dir/etc/resolv.conf"
  mknod -m 0600 "$dir/dev/console" c 5 1
  mknod -m 0666 "$dir/dev/null" c 1 3
}

# The libraries' directories in the unpacked packages, which the dynamic loader searches.
libdirs=(lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu)

# stage_elf ROOT DIR FILE... copies each FILE (a path inside the unpacked packages at ROOT) into
# DIR and, recursively, the shared libraries it needs (DT_NEEDED, from the multiarch library
# directories) and its interpreter. Symbolic links are copied as links along with their targets.
# Nothing else of the packages is copied.
stage_elf() {
  local root=$1 dir=$2 file link lib libdir found interp
  shift 2
  local -a queue=("$@")
  local -A staged=()
  while [ ${#queue[@]} -gt 0 ]; do
    file=${queue[0]}
    queue=("${queue[@]:1}")
    [ -z "${staged[$file]:-}" ] || continue
    staged[$file]=1
    mkdir -p "$dir$(dirname "$file")"
    if [ -L "$root$file" ]; then
      link=$(readlink "$root$file")
      ln -sfn "$link" "$dir$file"
      case "$link" in
        /*) queue+=("$link") ;;
        *) queue+=("$(dirname "$file")/$link") ;;
      esac
      continue
    fi
    [ -f "$root$file" ] || die "$file is not in the packages ${sshpkgs[*]}"
    install -m 0755 "$root$file" "$dir$file"
    interp=$(readelf -lW "$dir$file" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
    [ -z "$interp" ] || queue+=("$interp")
    for lib in $(readelf -dW "$dir$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
      found=
      for libdir in "${libdirs[@]}"; do
        if [ -e "$root/$libdir/$lib" ] || [ -L "$root/$libdir/$lib" ]; then
          found=/$libdir/$lib
          break
        fi
      done
      [ -n "$found" ] || die "$file needs $lib, which no package of ${sshpkgs[*]} holds"
      queue+=("$found")
    done
  done
}

common_inputs=("$init_bin" "$bbdeb" "$here/udhcpc.script" "$here/build.sh")

if stale "$out/vmlinuz" "$kdeb"; then
  install -m 0644 "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
  say "kernel $kver"
else
  say "vmlinuz is up to date"
fi

if stale "$out/initrd.img" "${common_inputs[@]}" "$kdeb" "$here/initramfs-init.sh"; then
  stage=$work/initramfs
  stage_common "$stage"
  mkdir -p "$stage/lib/modules" "$stage/etc/pinet" "$stage/newroot"
  : > "$stage/etc/pinet/modules"
  for entry in "${order[@]}"; do
    install -m 0644 "$kdir/${entry#*:}" "$stage/lib/modules/${entry%%:*}.ko"
    echo "${entry%%:*}" >> "$stage/etc/pinet/modules"
  done
  install -m 0755 "$here/initramfs-init.sh" "$stage/init"
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n > "$out/initrd.img.tmp"
  mv "$out/initrd.img.tmp" "$out/initrd.img"
  say "initramfs with modules: $(tr '\n' ' ' < "$stage/etc/pinet/modules")"
else
  say "initrd.img is up to date"
fi

if stale "$out/root.img" "${common_inputs[@]}" "${sshdebs[@]}"; then
  stage=$work/rootfs
  stage_common "$stage"
  mkdir -p "$stage/var/tmp" "$stage/home"
  echo pinet-guest > "$stage/etc/hostname"
  # dropbear: the server and its key generator, their libraries and the dynamic loader. Root has
  # no password ("*" never matches): logins are by the metadata service's key only.
  stage_elf "$work/ssh" "$stage" /usr/sbin/dropbear /usr/bin/dropbearkey
  # Login records: dropbear's logins write them, and complain to the console when they are missing.
  mkdir -p "$stage/etc/dropbear" "$stage/var/log"
  ln -sfn /run "$stage/var/run"
  : > "$stage/var/log/lastlog"
  : > "$stage/var/log/wtmp"
  printf '/bin/sh\n' > "$stage/etc/shells"
  printf 'root:*:19000:0:99999:7:::\n' > "$stage/etc/shadow"
  chmod 0600 "$stage/etc/shadow"
  chroot "$stage" /usr/sbin/dropbear -V >/dev/null 2>&1 ||
    die "dropbear does not run in the staged root: $(chroot "$stage" /usr/sbin/dropbear -V 2>&1 | head -n 3)"
  # Room for the files, the journal and what user data writes; the image is sparse on disk.
  used_kib=$(du -sk "$stage" | cut -f1)
  size_mib=$(( (used_kib / 1024) + 8 ))
  rm -f "$out/root.img.tmp"
  mke2fs -q -F -t ext4 -L pinet-root -m 0 -E root_owner=0:0 -d "$stage" "$out/root.img.tmp" "${size_mib}M" >/dev/null
  mv "$out/root.img.tmp" "$out/root.img"
  say "root filesystem: ext4, ${size_mib} MiB"
else
  say "root.img is up to date"
fi

say "packages: $(basename "$kdeb") $(basename "$bbdeb") $(for d in "${sshdebs[@]}"; do basename "$d"; done | tr '\n' ' ')"
say "outputs in $out:"
ls -l "$out/vmlinuz" "$out/initrd.img" "$out/root.img" | awk '{ print "guestimage:   " $NF " " $5 " bytes" }'
