# teredo relay appliance — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)
BIN := bin
GOTEST_FLAGS ?= -count=1 -timeout 45m
# Stamped into the binaries (internal/buildinfo); see scripts/version.sh.
VERSION := $(shell scripts/version.sh)
REVISION := $(shell scripts/version.sh revision)
LDFLAGS := -X github.com/teredorelay/teredorelay/internal/buildinfo.version=$(VERSION) \
	-X github.com/teredorelay/teredorelay/internal/buildinfo.revision=$(REVISION)
# Commands in the Debian package, NAME:DIR for ./cmd/NAME installed in /usr/DIR
# (a command is added to the package with one line here; docs/man/NAME.1.md,
# or NAME.8.md for sbin, gives it a manual page).
DEB_COMMANDS := \
	teredo-relayd:sbin \
	relayctl:bin \
	teredo-probe:bin \
	teredo-client:sbin
DEB_ARCH := $(shell $(GO) env GOARCH)
DEB_ROOT := build/deb/root
RACE_PKGS := ./cache/... ./peerstate/... ./relay/... ./teredo/... ./server/... ./client/... ./announce/... ./nexthop/... ./dataplane/... ./control/... ./xsk/...
MICRO_PKGS := ./teredo/... ./relay/ ./cache/... ./server/ ./dataplane/ ./nexthop/
# The CPU profile teredo-relayd is built with (PGO: go build picks up a
# main package's default.pgo); bench-micro builds with it too, so that its
# figures are those of the daemon. `make pgo` rebuilds it.
PGO_PROFILE := cmd/teredo-relayd/default.pgo
PGO_BENCH := BenchmarkWorkerStep$$/(decap|encap)/(1|64k|1M)$$
# package:FuzzTarget pairs run for a few seconds each by `make test`.
FUZZ_TARGETS := ./teredo:FuzzDecode ./peerstate:FuzzLoad ./relay:FuzzDecap ./relay:FuzzEncap ./server:FuzzHandle ./config:FuzzParse ./dataplane:FuzzParseL2 ./client:FuzzTunnelUDP ./client:FuzzTunnelTUN

.DEFAULT_GOAL := help

## help: list the targets
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /' | column -t -s ':'

## deps: install the Debian packages the tests and the demo need (root)
deps:
	@bash scripts/install-deps.sh

## build: build teredo-relayd, relayctl, teredo-probe, teredo-client and teredo-lab into bin/, stamped with the version
build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## version: print the version the binaries and the package get (scripts/version.sh)
version:
	@echo $(VERSION)

## deb: build the Debian package build/teredo-relayd_VERSION_ARCH.deb (nfpm, a Go tool of the module)
deb:
	rm -rf build/deb && mkdir -p $(DEB_ROOT)/usr/share/doc/teredo-relayd
	@set -e; for c in $(DEB_COMMANDS); do name=$${c%%:*}; dir=$${c##*:}; \
		echo "build $$name -> /usr/$$dir"; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS) -s -w" -o $(DEB_ROOT)/usr/$$dir/$$name ./cmd/$$name; done
	$(GO) run ./internal/cmd/genman -o $(DEB_ROOT)/usr/share/man -version $(VERSION)
	find $(DEB_ROOT)/usr/share/man -type f -exec gzip -9n {} +
	scripts/deb-changelog.sh $(VERSION) | gzip -9n >$(DEB_ROOT)/usr/share/doc/teredo-relayd/changelog.gz
	DEB_VERSION=$(VERSION) DEB_ARCH=$(DEB_ARCH) $(GO) tool nfpm package -f deploy/debian/nfpm.yaml -p deb -t build/teredo-relayd_$(VERSION)_$(DEB_ARCH).deb

## deb-check: build the package, check its contents and lintian, install, run, remove and purge it (root; make test runs it)
deb-check: deb
	DEB_COMMANDS="$(DEB_COMMANDS)" bash scripts/deb-check.sh build/teredo-relayd_$(VERSION)_$(DEB_ARCH).deb $(VERSION)

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
	$(MAKE) --no-print-directory deb-check

## bench: side-by-side benchmark (teredo-relayd, Miredo, bare AF_XDP floor, asavie), peer-count sweep (1k/64k/1M) + micro-benchmarks, with plots (root; ~15 min)
bench: deps
	$(GO) run ./bench/cmd/benchrun

## bench-micro: Go micro-benchmarks of the fast path (decap, encap, cache at 1 to 10M peers, worker steps, wire format) with allocations; the parallel ones at -cpu 1,2
bench-micro:
	$(GO) test -pgo=$(CURDIR)/$(PGO_PROFILE) -run '^$$' -bench . -skip 'Parallel' -benchmem $(MICRO_PKGS)
	$(GO) test -pgo=$(CURDIR)/$(PGO_PROFILE) -run '^$$' -bench 'Parallel' -cpu 1,2 -benchmem ./cache/ ./dataplane/ ./relay/

## pgo: rebuild cmd/teredo-relayd/default.pgo, the profile teredo-relayd is built with, from the worker step benchmarks (~1 min)
pgo:
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(GO) test -run '^$$' -bench '$(PGO_BENCH)' -benchtime 3s -cpuprofile "$$d/step.pprof" -o "$$d/dataplane.test" ./dataplane/ && \
	$(GO) tool pprof -proto "$$d/step.pprof" >$(PGO_PROFILE) && \
	$(GO) test -count=1 -run TestDefaultPGOProfileCoversFastPath ./cmd/teredo-relayd/

## demo: namespace lab with a real Miredo client through teredo-relayd (root)
demo: deps build
	$(BIN)/teredo-lab

.PHONY: help deps build version deb deb-check generate check-generated lint test bench bench-micro pgo demo
