# Everyday commands; scripts/test.sh is what CI runs.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOLANGCI_LINT_VERSION ?= v2.15.0

.PHONY: run test lint generate build

run: ## run the server with demo data
	go run ./cmd/nordkapp42 --demo

test: ## every check, as CI runs them
	./scripts/test.sh

lint:
	go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...

generate: ## regenerate the GraphQL server code from the schema
	go generate ./...

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/nordkapp42 ./cmd/nordkapp42
