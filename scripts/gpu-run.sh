#!/usr/bin/env bash
# Runs every GPU check and timing on a GPU machine, from the binaries that
# scripts/gpu-build.sh made (no Go needed), and prints a short table.
# Usage: scripts/gpu-run.sh [BINDIR]   (default bin/gpu); logs go to $OUT or /tmp.
set -uo pipefail
dir=${1:-bin/gpu}
logs=${OUT:-/tmp/delgrad-gpu}
mkdir -p "$logs"
export DELGRAD_MNIST=$dir/mnist
echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$logs/device.txt"
name=$(head -1 "$logs/device.txt")
# Peak fp64 (vector, TFLOP/s) and memory bandwidth (TB/s) by name, from the data sheets.
case "$name" in
  *H200*) peak="34 4.8" ;;
  *H100*SXM*|*H100\ 80GB\ HBM3*) peak="34 3.35" ;;
  *H100*) peak="26 2.0" ;;
  *A100*) peak="9.7 2.0" ;;
  *) peak="0 0" ;;
esac
echo "== parity (GPU engine against the CPU engine)"
"$dir/kernels.test" -test.run 'TestParity' -test.v > "$logs/parity.log" 2>&1
prc=$?
grep -c '^    --- PASS' "$logs/parity.log" | sed 's/^/cases passed: /'
grep -E -- '--- (FAIL|SKIP)' "$logs/parity.log" | head
awk '/PARITY/ {t=$(NF-2); g=$NF; if (t>mt) mt=t; if (g>mg) mg=g} END {printf "largest difference: spike times %.3g (bound 1e-10), gradients %.3g (bound 1e-8)\n", mt, mg}' "$logs/parity.log"
echo "== 20 epochs Yin-Yang H30_WA, GPU and CPU from the same seed"
"$dir/kernels.test" -test.run 'TestTrainingMatchesCPU' -test.v > "$logs/training.log" 2>&1
trc=$?
grep -E 'EPOCH (1|10|20) ' "$logs/training.log" | sed 's/.*EPOCH/epoch/'
grep -E -- '--- (PASS|FAIL|SKIP)' "$logs/training.log"
echo "== benchmarks"
"$dir/kernels.test" -test.run '^$' -test.bench . -test.benchtime 3x > "$logs/bench.log" 2>&1
awk -v peak="$peak" 'BEGIN {split(peak, p, " ")}
  /^Benchmark/ {
    sps = ""; gf = ""; gb = "";
    for (i = 1; i < NF; i++) {
      if ($(i+1) == "samples/s") sps = $i;
      if ($(i+1) == "model-GFLOP/s") gf = $i;
      if ($(i+1) == "model-GB/s") gb = $i;
    }
    line = sprintf("%-50s %14.0f samples/s", $1, sps);
    if (gf != "" && p[1] > 0) line = line sprintf("  ~%.1f%% of fp64 peak, ~%.1f%% of memory bandwidth (cost model)", 100*gf/(1000*p[1]), 100*gb/(1000*p[2]));
    print line
  }' "$logs/bench.log"
grep -E '^(FAIL|panic)' "$logs/bench.log"
echo "== delgrad train -device gpu (yin_yang_H30_WA, 300 epochs)"
start=$(date +%s.%N)
"$dir/delgrad" train -device gpu -quiet -out "$logs/run-gpu" -force 2>&1 | tail -2
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN {printf "wall time %.1f s\n", b-a}'
exit $((prc | trc))
