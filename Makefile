# The README's verbs. Every target installs what it needs itself.
SHELL := /bin/bash
STACK ?= dev
GO ?= go
# Extra flags for `make local`, e.g. LOCAL_FLAGS="-rate 2000 -duration 30s -verify".
LOCAL_FLAGS ?=
RIE_PACKAGE := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
# The processor benchmark's input; generated on first use.
BENCH_EVENT ?= .build/bench/event-10000.json

.PHONY: cross inspect test unit e2e lint fmt-check vet staticcheck actionlint plan size local bench bench-local fuzz deps clean redrive erase

## test: what CI runs: formatting, vet, staticcheck, actionlint, all tests and a short end-to-end run.
test: deps fmt-check vet staticcheck actionlint cross unit e2e

deps: node_modules/.package-lock.json
	$(GO) mod download

# npm ci only when the lockfile changed since the last install.
node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

actionlint:
	$(GO) tool actionlint

# The race detector on everything concurrent (the mapping, the pool, the load
# generator, the stream writer, the processor's parallel writes); the Pulumi
# program and the command wrappers run without it, which keeps CI fast.
unit: deps
	$(GO) test -count=1 -race ./internal/... ./functions/...
	$(GO) test -count=1 ./infra/... ./scripts/...

# Ends with a short summary whose last line is the verdict; the whole report
# is in .build/e2e/report.json.
e2e: deps
	$(GO) run ./scripts/local -stack $(STACK) -rate 1000 -duration 20s -users 200 -bad 0.02 -dup 0.05 -late-dup 10s -pk mixed -verify -chaos 0.05 -port 0 \
		-name e2e -report .build/e2e/report.json

## cross: everything, aws-lambda-rie and the tests build for macOS (Intel and Apple silicon),
# where make local runs on the same supervisor code as on Linux.
cross:
	for arch in amd64 arm64; do \
		GOOS=darwin GOARCH=$$arch $(GO) build ./... && \
		GOOS=darwin GOARCH=$$arch $(GO) build -o /dev/null $(RIE_PACKAGE) && \
		GOOS=darwin GOARCH=$$arch $(GO) vet ./internal/dev/local/... ./internal/dev/emulators/... ./scripts/... || exit 1; \
	done

lint: fmt-check vet staticcheck actionlint

## plan: the offline preview of a stack, e.g. make plan STACK=prod; with RATE (events/s) and
## optionally EVENT_BYTES, also the stack's monthly bill under that load and what it would throttle.
RATE ?=
EVENT_BYTES ?= 1000
plan:
	$(GO) run ./scripts/plan -stack $(STACK) $(if $(RATE),-rate $(RATE) -event-bytes $(EVENT_BYTES))

## size: the capacity planner, e.g. make size SIZE_FLAGS="-rate 5000 -event-bytes 1000 -write staging"
SIZE_FLAGS ?=
size:
	$(GO) run ./scripts/size $(SIZE_FLAGS)

## local: the whole pipeline on this machine.
# Built, then run (not go run), so that Ctrl-C reaches the command directly
# and a clean stop is not reported as a failure.
local: deps
	$(GO) build -o .build/bin/local ./scripts/local
	.build/bin/local -stack $(STACK) $(LOCAL_FLAGS)

## inspect: the running local run's state (or a deployed stack's: INSPECT_FLAGS="-stack prod"),
# e.g. make inspect ARGS="user user-1". See go run ./scripts/inspect -h.
INSPECT_FLAGS ?=
ARGS ?=
inspect:
	$(GO) run ./scripts/inspect $(INSPECT_FLAGS) $(ARGS)

## bench: the processor against the Node.js peer on the same event file.
bench: deps
	$(GO) run ./scripts/bench -compare -event $(BENCH_EVENT)

## bench-local: the end-to-end rates on this machine (docs/speed.md). 12,000/s is
# more than prod's 8 shards take (8,000 records/s), so that run turns the shard limits off.
bench-local: deps
	$(GO) build -o .build/bin/local ./scripts/local
	.build/bin/local -stack prod -rate 12000 -duration 30s -users 500 -batch 500 -port 0 -verify -shard-limits=false
	.build/bin/local -stack prod -rate 5000 -duration 30s -users 500 -batch 500 -port 0 -verify

## erase: erase one user's data (README, "Data protection"): make erase USER=user-00042 (the local run),
## or make erase USER=user-00042 ERASE_FLAGS="-stack prod -dry-run" (a deployed stack)
# USER must come from the command line: the shell's own USER is the login name.
ERASE_FLAGS ?=
erase:
	@if [ "$(origin USER)" != "command line" ]; then echo "usage: make erase USER=<userId> [ERASE_FLAGS=\"-stack prod -dry-run\"]"; exit 2; fi
	$(GO) run ./scripts/erase -user '$(USER)' $(ERASE_FLAGS)

## fuzz: each fuzz target for a short while.
fuzz:
	./scripts/fuzz.sh 30s

clean:
	rm -rf .build out

## redrive: failed batches back into the pipeline, e.g. make redrive ARGS="list", ARGS="-stack prod replay -dry-run"
ARGS ?= list
redrive:
	$(GO) run ./scripts/redrive $(ARGS)
