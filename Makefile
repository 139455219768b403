# Hydrant: `make run` starts the server on its embedded default;
# `make test` installs what the tests need and runs them all.
GO        ?= go
BIN       ?= bin/hydrant
FUZZTIME  ?= 3s
FUZZTIME_LONG ?= 10m
CACHE     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/hydrant
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK := $(CACHE)/bin/staticcheck

.PHONY: help run build wasm test unit integration fuzz fuzz-long bench lint fmt tidy-check services-up services-down clean soak

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: build ## start Hydrant on the embedded default (or configs/hydrant.yaml)
	./$(BIN) serve

build: wasm ## build bin/hydrant (and the example wasm processors)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hydrant

wasm: ## build the example wasm processors (examples/wasm) into bin/wasm/
	./scripts/build-wasm.sh bin/wasm

test: services-up lint wasm unit integration fuzz ## everything CI runs

unit: ## unit tests with the race detector
	$(GO) test -race -shuffle=on -count=1 ./...

integration: services-up ## end-to-end tests against the real binary (and real services)
	$(GO) test -tags integration -count=1 -timeout 20m ./integration/... ./sinks/...

fuzz: ## run every fuzz target briefly (FUZZTIME, default 3s)
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

fuzz-long: ## every fuzz target for FUZZTIME_LONG (default 10 minutes; FUZZ_ONLY picks some)
	FUZZTIME=$(FUZZTIME_LONG) ./scripts/fuzz.sh

bench: ## benchmarks (see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

lint: $(STATICCHECK) ## gofmt, go vet, staticcheck, import direction
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) vet -tags integration ./integration/... ./sinks/...
	$(STATICCHECK) ./...
	./scripts/depcheck.sh

$(STATICCHECK):
	GOBIN=$(CACHE)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

tidy-check: ## go.mod and go.sum are tidy
	$(GO) mod tidy && git diff --exit-code go.mod go.sum

soak: ## kill -9 / MinIO outage / disk-full soak, CYCLES=100 (not part of make test; see docs/reliability.md)
	./scripts/soak.sh

services-up: ## install and start the services the tests need (idempotent)
	./scripts/services.sh up

services-down: ## stop them
	./scripts/services.sh down

clean:
	rm -rf bin var
