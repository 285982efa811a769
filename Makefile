# teredo relay appliance — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)
BIN := bin
GOTEST_FLAGS ?= -count=1 -timeout 45m
RACE_PKGS := ./cache/... ./relay/... ./teredo/... ./server/... ./client/... ./announce/... ./nexthop/... ./dataplane/... ./control/... ./xsk/...
MICRO_PKGS := ./teredo/... ./relay/ ./cache/... ./server/ ./dataplane/ ./nexthop/
# package:FuzzTarget pairs run for a few seconds each by `make test`.
FUZZ_TARGETS := ./teredo:FuzzDecode ./relay:FuzzDecap ./relay:FuzzEncap ./server:FuzzHandle ./config:FuzzParse ./dataplane:FuzzParseL2

.DEFAULT_GOAL := help

## help: list the targets
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /' | column -t -s ':'

## deps: install the Debian packages the tests and the demo need (root)
deps:
	@bash scripts/install-deps.sh

## build: build teredo-relayd, relayctl, teredo-probe and teredo-lab into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

## generate: rebuild the bpf2go outputs (needs clang-19; the outputs are committed)
generate:
	$(GO) generate ./bpf/... ./bench/internal/benchbpf/...

## check-generated: fail when a committed bpf2go output is stale
check-generated:
	@bash scripts/check-generated.sh

## lint: gofmt, go vet and staticcheck (unused code and the SA bug checks)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck -checks 'U1000,SA*' ./...

## test: every test, privileged ones included (run as root; the README's test command)
test: deps lint check-generated
	$(GO) test $(GOTEST_FLAGS) ./...
	$(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x $(MICRO_PKGS)
	@log=$$(mktemp); for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz smoke $$fn ($$pkg)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime 3s -fuzzminimizetime 1s $$pkg >$$log 2>&1 || { cat $$log; rm -f $$log; exit 1; }; done; rm -f $$log

## bench: side-by-side benchmark (teredo-relayd, Miredo, bare AF_XDP floor, asavie), peer-count sweep (1k/64k/1M) + micro-benchmarks, with plots (root; ~15 min)
bench: deps
	$(GO) run ./bench/cmd/benchrun

## bench-micro: Go micro-benchmarks of the fast path (decap, encap, cache, wire format) with allocations
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $(MICRO_PKGS)

## demo: namespace lab with a real Miredo client through teredo-relayd (root)
demo: deps build
	$(BIN)/teredo-lab

.PHONY: help deps build generate check-generated lint test bench bench-micro demo
