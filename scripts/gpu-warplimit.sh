#!/usr/bin/env bash
# Runs on a GPU machine from scripts/gpu-build-ab.sh's bin/ab (new build):
# BenchmarkWarpLimit twice (MNIST training epochs per pair limit of the
# warp-per-pair policy), then the bench suite on the GPU once per
# DELGRAD_GPU_WARPS value in $SUITE (default "thread small"), each report
# packed as $OUT/suite-POLICY.tgz. Usage: scripts/gpu-warplimit.sh [DIR]
set -uo pipefail
dir=${1:-bin/ab}
out=${OUT:-/tmp/delgrad-warplimit}
mkdir -p "$out"
bin=$(mktemp -d)
for b in kernels-new.test delgrad-new; do gunzip -c "$dir/$b.gz" > "$bin/$b" && chmod +x "$bin/$b"; done
export DELGRAD_MNIST=$dir/mnist
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
rc=0
for r in 1 2; do
  echo "== BenchmarkWarpLimit, round $r ($(date +%T))"
  timeout 120 "$bin/kernels-new.test" -test.run '^$' -test.bench WarpLimit -test.benchtime 2x > "$out/warplimit-$r.log" 2>&1 || rc=1
  awk '/^Benchmark/ {for (i = 2; i < NF; i++) if ($(i+1) == "samples/s") printf "%-55s %s samples/s\n", $1, $i}' "$out/warplimit-$r.log"
done
for w in ${SUITE-thread small}; do
  bash "$(dirname "$0")/gpu-suite.sh" "$w" "$bin/delgrad-new" "$out" || rc=1
done
rm -rf "$bin"
exit $rc
