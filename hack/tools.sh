#!/usr/bin/env bash
# Copyright 2026 The PiNet Authors. Licensed under the Apache License, Version 2.0.
#
# Builds the development tools into bin/, once: kube-apiserver, kubectl and etcd from the tools
# module (hack/tools), controller-gen and kustomize at pinned versions. A cold build takes several
# minutes; later runs find the binaries and return at once.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
mkdir -p "$BIN"

K8S_VERSION=v1.37.2
CONTROLLER_GEN_VERSION=v0.23.0
KUSTOMIZE_VERSION=v5.8.2

ldflags="-X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/client-go/pkg/version.gitVersion=${K8S_VERSION}"

if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kubectl" ] || [ ! -x "$BIN/kube-controller-manager" ]; then
  echo "Building kube-apiserver, kube-controller-manager and kubectl ${K8S_VERSION} (first time: several minutes)"
  (cd hack/tools && go build -ldflags "$ldflags" -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
fi
if [ ! -x "$BIN/etcd" ]; then
  echo "Building etcd"
  (cd hack/tools && go build -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
fi
if [ ! -x "$BIN/controller-gen" ]; then
  GOBIN=$BIN go install "sigs.k8s.io/controller-tools/cmd/controller-gen@${CONTROLLER_GEN_VERSION}"
fi
if [ ! -x "$BIN/kustomize" ]; then
  GOBIN=$BIN go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
fi
