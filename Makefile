# DelGrad-Go: build, test and benchmark.
GO ?= go

.PHONY: all build test vet fmt-check bench fuzz

all: build test

build:
	$(GO) build ./...

# The project's test command (CI runs it through .ci/run).
test: fmt-check vet
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Engine, training-epoch and chip-evaluation benchmarks (samples/s per case) on this machine's CPU.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./batch ./trainer ./bss2model

# A short fuzzing run of the forward and backward pass.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzForward -fuzztime 60s ./batch
