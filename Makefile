# duban's everyday commands. `make test` is what CI runs.
GO ?= go

.PHONY: dev test test-short build vet fmt clean bench bench-quick

# Run duban on its embedded defaults (Temporal in-process, private PostgreSQL).
dev:
	$(GO) run ./cmd/duban dev

# Everything CI checks: vet, then every test with the race detector.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# The fast loop: no race detector, no kill -9 of a whole dev stack.
test-short:
	$(GO) test -short ./...

# duban beside its ceilings, measured in one run (see BENCHMARKS.md).
bench:
	$(GO) run ./bench

# The same at small sizes, production shape only: about two minutes.
bench-quick:
	$(GO) run ./bench -quick

build:
	$(GO) build -o bin/duban ./cmd/duban

vet:
	$(GO) vet ./...

fmt:
	gofmt -w .

clean:
	rm -rf bin .duban
