# DelGrad-Go: build, test and benchmark.
GO ?= go

.PHONY: all build test vet fmt-check bench fuzz

all: build test

build:
	$(GO) build ./...

# The project's test command (CI runs it through .ci/run).
test: fmt-check vet
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -asan ./kernels/host

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

# CUDA: PTX from kernels/delgrad.cu (needs nvcc 11.8: scripts/install-cuda.sh --toolkit).
NVCC ?= nvcc
NVCCFLAGS = -ptx -O3 --fmad=false -allow-unsupported-compiler
PTX_SOURCES = kernels/delgrad.cu kernels/delgrad.cuh
PTX = kernels/ptx/delgrad_sm80.ptx kernels/ptx/delgrad_sm90.ptx

.PHONY: ptx ptx-check cuda-check gpu-bins

ptx:
	$(NVCC) $(NVCCFLAGS) -arch=compute_80 -o kernels/ptx/delgrad_sm80.ptx kernels/delgrad.cu
	$(NVCC) $(NVCCFLAGS) -arch=compute_90 -o kernels/ptx/delgrad_sm90.ptx kernels/delgrad.cu
	sha256sum $(PTX_SOURCES) $(PTX) > kernels/ptx/SOURCES.sha256

# The committed PTX matches the sources: always by the recorded hashes (a
# source changed without `make ptx`, or a PTX file edited by hand, fails);
# where nvcc is installed, also by regenerating the PTX and comparing.
ptx-check:
	@sha256sum --quiet -c kernels/ptx/SOURCES.sha256 || { echo "kernels/ptx is stale: run make ptx (scripts/install-cuda.sh --toolkit installs nvcc)"; exit 1; }
	@if command -v $(NVCC) >/dev/null; then \
		tmp=$$(mktemp -d); \
		$(NVCC) $(NVCCFLAGS) -arch=compute_80 -o $$tmp/delgrad_sm80.ptx kernels/delgrad.cu && \
		$(NVCC) $(NVCCFLAGS) -arch=compute_90 -o $$tmp/delgrad_sm90.ptx kernels/delgrad.cu && \
		cmp -s $$tmp/delgrad_sm80.ptx kernels/ptx/delgrad_sm80.ptx && cmp -s $$tmp/delgrad_sm90.ptx kernels/ptx/delgrad_sm90.ptx \
		|| { echo "nvcc makes other PTX than kernels/ptx holds: run make ptx"; rm -rf $$tmp; exit 1; }; \
		rm -rf $$tmp; echo "ptx-check: regenerated PTX matches"; \
	else echo "ptx-check: hashes match (nvcc not installed: PTX not regenerated)"; fi

# The cuda build (needs cuda.h: scripts/install-cuda.sh): compile, vet, and
# run the kernels tests, which skip with the reason where no GPU is usable.
cuda-check: ptx-check
	$(GO) vet -tags cuda ./...
	$(GO) build -tags cuda -o /dev/null ./cmd/delgrad
	$(GO) test -tags cuda -count=1 -run WarpPolicy ./cmd/delgrad
	@log=$$(mktemp); $(GO) test -tags cuda -count=1 -v -run 'Parity|TrainingMatchesCPU' ./kernels > $$log 2>&1; rc=$$?; \
	grep -E '^(--- |ok|FAIL|PASS)|no GPU' $$log; rm -f $$log; exit $$rc

# GPU test and benchmark binaries for a GPU machine (see scripts/gpu-run.sh).
gpu-bins:
	bash scripts/gpu-build.sh
