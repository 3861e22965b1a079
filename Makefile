# Everyday commands; scripts/test.sh is what CI runs.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0
HELM ?= go run helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
CHART := deploy/helm/nordkapp42

.PHONY: help run test lint generate build docker helm

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## run the server with demo data
	go run ./cmd/nordkapp42 --demo

test: ## every check, as CI runs them
	./scripts/test.sh

lint: ## golangci-lint, pinned
	go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...

BUF_VERSION ?= v1.75.0

generate: ## regenerate the GraphQL server code and the gRPC code (api/proto)
	go generate ./...
	go run github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION) generate

build: ## a static binary in bin/, as the Dockerfile builds it
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/nordkapp42 ./cmd/nordkapp42

docker: ## the container image nordkapp42:<VERSION>
	docker build -t nordkapp42:$(VERSION) --build-arg VERSION=$(VERSION) .

# --kube-version: a helm built from source reports Kubernetes v1.20, older
# than the chart allows.
helm: ## lint and render the Helm chart
	$(HELM) lint --strict $(CHART)
	$(HELM) template nordkapp42 $(CHART) --kube-version 1.33.0 >/dev/null
	$(HELM) template nordkapp42 $(CHART) --kube-version 1.33.0 --set replicaCount=3 \
		--set secrets.databaseUrl=postgres://nordkapp42@postgres:5432/nordkapp42 --set secrets.redisUrl=redis://redis:6379/0 \
		--set serviceMonitor.enabled=true --set prometheusRule.enabled=true >/dev/null
