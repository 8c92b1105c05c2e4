#!/usr/bin/env bash
# Copyright 2026 The PiNet Authors. Licensed under the Apache License, Version 2.0.
#
# Installs the Debian packages PiNet needs (libvirt, QEMU, networking and storage tools, the AWS
# CLI and boto3 for tests, chromium for the dashboard's browser test), only those missing. No systemd units are used: see hack/libvirtd.sh.
set -euo pipefail

packages=(
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev pkg-config
  qemu-system-x86 qemu-utils e2fsprogs dnsmasq-base vblade iproute2 nftables busybox-static cpio
  awscli python3-boto3 cloud-init curl ca-certificates procps acl binutils chromium
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
