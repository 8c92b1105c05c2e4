# PiNet — an EC2-compatible private cloud as a Kubernetes operator.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
KUSTOMIZE := $(BIN)/kustomize
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
LDFLAGS := -X pinet.io/pinet/internal/version.gitVersion=$(VERSION)
IMG_MANAGER ?= pinet-manager:latest
IMG_NODEAGENT ?= pinet-nodeagent:latest
# Test binaries find kube-apiserver, etcd and kubectl here.
export KUBEBUILDER_ASSETS := $(BIN)
TEST_TIMEOUT ?= 40m

.PHONY: all
all: build

##@ Development

.PHONY: deps
deps: ## Install the Debian packages PiNet needs (only those missing).
	hack/deps.sh

.PHONY: tools
tools: ## Build kube-apiserver, etcd, kubectl, controller-gen and kustomize into bin/ (once).
	hack/tools.sh

.PHONY: manifests
manifests: tools ## Generate CRDs and RBAC roles from the kubebuilder markers.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=pinet-manager paths="./controllers/...;./dashboard/..." output:rbac:artifacts:config=config/rbac/manager
	$(CONTROLLER_GEN) rbac:roleName=pinet-nodeagent paths=./nodeagent/... output:rbac:artifacts:config=config/rbac/nodeagent

.PHONY: generate
generate: tools ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: build
build: ## Build the manager, node agent and helper binaries into bin/.
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/manager ./cmd/manager
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/nodeagent ./cmd/nodeagent
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/pinetctl ./cmd/pinetctl
	go build -o $(BIN)/pinet-pki ./hack/pki

.PHONY: test
test: deps tools generate manifests vet build ## Run every test (unit, integration with a real API server and libvirt, end to end).
	hack/libvirtd.sh
	go test -timeout $(TEST_TIMEOUT) -count=1 ./...
	hack/fuzz.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 3s; e.g. make fuzz FUZZTIME=10m).
	hack/fuzz.sh

.PHONY: bench
bench: tools build ## Run the benchmarks in bench/ (BENCHFLAGS="-bench.launch 1000" for the issue's sizes).
	go test -timeout 60m -run '^$$' -bench . -benchmem ./bench/... $(BENCHFLAGS)

##@ Local cloud

.PHONY: up
up: ## Install, build and start the local cloud in the background; returns when it is ready.
	hack/cloud.sh up

.PHONY: down
down: ## Stop everything `make up` started.
	hack/cloud.sh down

##@ Deployment

.PHONY: docker-build
docker-build: ## Build the manager and node agent images.
	docker build --target manager -t $(IMG_MANAGER) .
	docker build --target nodeagent -t $(IMG_NODEAGENT) .

.PHONY: deploy
deploy: tools ## Install PiNet on the cluster in the current kubeconfig.
	$(KUSTOMIZE) build config/default | $(BIN)/kubectl apply --server-side -f -

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
