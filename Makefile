# teredo relay appliance — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)
BIN := bin
GOTEST_FLAGS ?= -count=1 -timeout 45m

.DEFAULT_GOAL := help

## help: list the targets
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /' | column -t -s ':'

## deps: install the Debian packages the tests and the demo need (root)
deps:
	@bash scripts/install-deps.sh

## build: build teredo-relayd, relayctl and teredo-lab into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

## generate: rebuild the bpf2go outputs (needs clang-19)
generate:
	$(GO) generate ./bpf/...

## check-generated: fail when the committed bpf2go outputs are stale
check-generated:
	@bash bpf/check-generated.sh

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## test: every test, privileged ones included (run as root; the README's test command)
test: deps lint check-generated
	$(GO) test $(GOTEST_FLAGS) ./...
	$(GO) test -count=1 -race ./cache/... ./relay/ ./teredo/...
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./teredo/... ./relay/ ./cache/...

## bench: micro-benchmarks of the fast path (decap, encap, cache) with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./teredo/... ./relay/ ./cache/...

## demo: namespace lab with a real Miredo client through teredo-relayd (root)
demo: deps build
	$(BIN)/teredo-lab

.PHONY: help deps build generate check-generated lint test bench demo
