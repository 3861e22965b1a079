#!/usr/bin/env bash
# Runs every check of nordkapp42 on a fresh machine: it installs what the
# tests need (npm clients, the pinned linter), makes sure the services the
# adapter tests talk to are up, then vets, lints and runs all tests with the
# race detector. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

GOLANGCI_LINT_VERSION=v2.15.0
HELM_VERSION=v3.22.0
ACTIONLINT_VERSION=v1.7.12
BUF_VERSION=v1.75.0
export PATH="$(go env GOPATH)/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

# PostgreSQL and Redis back the scale-out adapters' tests. Start them when
# they are installed but not answering; tests that need a missing service
# skip with one line (and fail under CI=true).
ensure_services() {
  if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    fi
  fi
  if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    if command -v redis-server >/dev/null; then
      redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
    fi
  fi
}

step "services"
ensure_services

step "npm clients (test/clients)"
if command -v npm >/dev/null; then
  npm ci --prefix test/clients --no-audit --no-fund --loglevel=error
else
  echo "npm not found: the real-client checks will skip (and fail under CI=true)"
fi

step "go vet"
go vet ./...

step "golangci-lint $GOLANGCI_LINT_VERSION"
if ! golangci-lint version 2>/dev/null | grep -q "${GOLANGCI_LINT_VERSION#v}"; then
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi
golangci-lint run ./...

step "buf $BUF_VERSION lint/breaking/generate (api/proto)"
if ! buf --version 2>/dev/null | grep -qx "${BUF_VERSION#v}"; then
  go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
fi
buf lint
if git cat-file -e main:api/proto 2>/dev/null; then
  buf breaking --against '.git#branch=main'
else
  echo "branch main has no api/proto: buf breaking skipped"
fi
# The committed code must be what buf generate makes (with the plugins
# pinned in go.mod): generate into a scratch directory and compare.
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
buf generate -o "$gen"
if ! diff -r "$gen/internal/gen" internal/gen; then
  echo "internal/gen differs from what api/proto generates: run make generate" >&2
  exit 1
fi

step "helm $HELM_VERSION lint/template (deploy/helm/nordkapp42)"
# A helm built with go install reports its version without the patch
# (v3.22) and Kubernetes v1.20 as the default, older than the chart
# allows: hence the version match and --kube-version.
case "$(helm version --template '{{.Version}}' 2>/dev/null)" in
  "$HELM_VERSION" | "${HELM_VERSION%.0}") ;;
  *) go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ;;
esac
chart=deploy/helm/nordkapp42
scale_out=(--set replicaCount=3 --set secrets.databaseUrl=postgres://nordkapp42@postgres:5432/nordkapp42 --set secrets.redisUrl=redis://redis:6379/0)
monitoring=(--set serviceMonitor.enabled=true --set prometheusRule.enabled=true)
helm lint --strict "$chart"
helm lint --strict "$chart" "${scale_out[@]}" "${monitoring[@]}"
helm template nordkapp42 "$chart" --kube-version 1.33.0 >/dev/null
helm template nordkapp42 "$chart" --kube-version 1.33.0 "${scale_out[@]}" >/dev/null
helm template nordkapp42 "$chart" --kube-version 1.33.0 "${monitoring[@]}" >/dev/null

step "actionlint $ACTIONLINT_VERSION"
if ! actionlint -version 2>/dev/null | grep -qx "$ACTIONLINT_VERSION"; then
  go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi
actionlint .github/workflows/ci.yml

step "go test -race"
go test -race -count=1 -timeout 20m ./...
