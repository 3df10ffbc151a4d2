#!/usr/bin/env bash
# Runs the bench suite of a cuda delgrad binary on the GPU with one
# per-pair policy (DELGRAD_GPU_WARPS) and packs its report as
# OUTDIR/suite-POLICY.tgz (a device call brings back few files, so the
# report travels as one), with the log beside it as OUTDIR/suite-POLICY.log.
# Used by gpu-ab.sh and gpu-warplimit.sh. Usage: scripts/gpu-suite.sh POLICY DELGRAD OUTDIR
set -uo pipefail
w=${1:?usage: gpu-suite.sh POLICY DELGRAD OUTDIR} delgrad=${2:?} out=${3:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== delgrad bench -device gpu, DELGRAD_GPU_WARPS=$w ($(date +%T))"
rc=0
DELGRAD_GPU_WARPS=$w timeout 150 "$delgrad" bench -device gpu -quiet -batches 50,150,1024,4096,65536 -repeats 3 -min-time 100ms -max-step 1s \
  -cases '^(yinyang-4-30-3-axonal-tau2|yinyang-4-30-3-none-tau1|mnist16-256-128-10|mnist-784-350-10)$' -out "$tmp/suite-$w" > "$out/suite-$w.log" 2>&1 || rc=1
tail -2 "$out/suite-$w.log"
tar -C "$tmp" -czf "$out/suite-$w.tgz" "suite-$w" || rc=1
exit $rc
