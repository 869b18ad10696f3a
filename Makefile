# duban's everyday commands. `make test` is what CI runs.
GO ?= go

.PHONY: dev test test-short fuzz build build-dev vet fmt clean bench bench-quick chaos cluster

# Run duban on its embedded defaults (Temporal in-process, private PostgreSQL):
# the README's `go run ./cmd/duban dev`, which runs this same development
# build, without building the production one first.
dev:
	$(GO) run -tags devstack ./cmd/duban dev

# Everything CI checks: vet, every test with the race detector, the
# Kubernetes manifests (deploy/, a module of its own), then each fuzz target
# for a bounded time.
test:
	$(GO) vet ./...
	$(GO) vet -tags devstack ./cmd/duban
	$(GO) vet -tags rehearsal ./workflows
	$(GO) test -race -count=1 -tags devstack ./...
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...
	./scripts/fuzz

# Each fuzz target for FUZZTIME (default 10s).
fuzz:
	./scripts/fuzz

# The fast loop: no race detector, no kill -9 of a whole dev stack.
test-short:
	$(GO) test -short -tags devstack ./...

# duban beside its ceilings, measured in one run (see BENCHMARKS.md).
bench:
	$(GO) run ./bench

# The same at small sizes, production shape only: about four minutes here.
bench-quick:
	$(GO) run ./bench -quick

# kill -9 of the API, the worker, PostgreSQL and Temporal under load, then
# count what was lost, doubled or missed (see RELIABILITY.md): 6 to 8 minutes here.
chaos:
	$(GO) run ./chaos

# The same on a cluster of processes (two API replicas behind HAProxy, two
# workers, Temporal's services apart, PostgreSQL with a standby), then a
# rolling release across a workflow revision: about 8 minutes here. Needs
# haproxy (apt-get install haproxy).
cluster:
	$(GO) run ./chaos -shape cluster -release

# The production binary, without `duban dev` and the Temporal server it
# embeds: what a plain go build gives (and the Dockerfile).
build:
	$(GO) build -o bin/duban ./cmd/duban

# duban with its development stack, as `go run ./cmd/duban dev` runs it.
build-dev:
	$(GO) build -tags devstack -o bin/duban-dev ./cmd/duban

vet:
	$(GO) vet ./...

fmt:
	gofmt -w .

clean:
	rm -rf bin .duban
