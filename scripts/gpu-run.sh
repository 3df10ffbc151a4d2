#!/usr/bin/env bash
# Runs every GPU check and timing on a GPU machine, from the binaries that
# scripts/gpu-build.sh made (no Go needed), and prints a short table.
# Usage: scripts/gpu-run.sh [BINDIR]   (default bin/gpu)
# Logs go to $OUT (or /tmp/delgrad-gpu) as logs.tar.gz; steps are skipped
# with PROFILE=0, SUITE=0 or TRAIN=0.
set -uo pipefail
dir=${1:-bin/gpu}
out=${OUT:-/tmp/delgrad-gpu}
logs=$(mktemp -d)
mkdir -p "$out"
# The logs are packed after every step, so a run cut off at its limit
# still leaves them.
save() { tar -C "$logs" -czf "$out/logs.tar.gz.tmp" . 2>/dev/null && mv "$out/logs.tar.gz.tmp" "$out/logs.tar.gz"; }
trap save EXIT
export DELGRAD_MNIST=$dir/mnist
step() { save; echo "== $1 ($(date +%T))"; }
rc=0
step device
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader | tee "$logs/device.txt"
name=$(head -1 "$logs/device.txt")
# Peak fp64 (vector, TFLOP/s) and memory bandwidth (TB/s) by name, from the data sheets.
case "$name" in
  *H200*) peak="34 4.8" ;;
  *H100*SXM*|*H100\ 80GB\ HBM3*) peak="34 3.35" ;;
  *H100*) peak="26 2.0" ;;
  *A100*) peak="9.7 2.0" ;;
  *) peak="0 0" ;;
esac
step "parity (GPU engine against the CPU engine)"
timeout 90 "$dir/kernels.test" -test.run 'TestParity' -test.v > "$logs/parity.log" 2>&1 || rc=1
grep -c '^    --- PASS' "$logs/parity.log" | sed 's/^/cases passed: /'
grep -E -A3 -- '--- (FAIL|SKIP)' "$logs/parity.log" | head -20
grep -E '^(panic|FAIL)' "$logs/parity.log" | head -5
awk '/PARITY/ {t=$(NF-2); g=$NF; if (t>mt) mt=t; if (g>mg) mg=g} END {printf "largest difference: spike times %.3g (bound 1e-10), gradients %.3g (bound 1e-8)\n", mt, mg}' "$logs/parity.log"
step "20 epochs Yin-Yang H30_WA, GPU and CPU from the same seed"
timeout 60 "$dir/kernels.test" -test.run 'TestTrainingMatchesCPU' -test.v > "$logs/training.log" 2>&1 || rc=1
grep -E 'EPOCH (1|2|10|20) ' "$logs/training.log" | sed 's/.*EPOCH/epoch/'
grep -E -A3 -- '--- (PASS|FAIL|SKIP)' "$logs/training.log" | head -8
step "populations: parity and 20 epochs of 16 Yin-Yang members against 16 single runs"
timeout 120 "$dir/kernels.test" -test.run 'TestPopulation(Parity|TrainingMatchesSingles)' -test.v > "$logs/population.log" 2>&1 || rc=1
grep -E -- '--- (PASS|FAIL|SKIP)|POPTRAIN' "$logs/population.log" | head -8
awk '/POPPARITY/ {t=$(NF-2); g=$NF; if (t>mt) mt=t; if (g>mg) mg=g} END {printf "population parity, largest difference: spike times %.3g, gradients %.3g\n", mt, mg}' "$logs/population.log"
step "perturbed layers (chips with time-constant mismatch): GPU against bss2model.FirstSpikes"
timeout 60 "$dir/kernels.test" -test.run 'TestPerturbedParity' -test.v > "$logs/perturbed.log" 2>&1 || rc=1
grep -E -- '--- (PASS|FAIL|SKIP)|PERTPARITY' "$logs/perturbed.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: PERTPARITY /  /' | head -8
grep -E -A3 -- '--- FAIL' "$logs/perturbed.log" | head
step "devices: NewGPUOn on every ordinal, and a bad ordinal refused"
timeout 30 "$dir/kernels.test" -test.run 'TestNewGPUOn' -test.v > "$logs/devices.log" 2>&1 || rc=1
grep -E -- '--- (PASS|FAIL|SKIP)' "$logs/devices.log" | head -4
grep -E -A3 -- '--- FAIL' "$logs/devices.log" | head
step "simulated BrainScaleS-2 chips: GPU against CPU per chip, hardware-aware training, 1000 chips timed"
timeout 150 "$dir/kernels.test" -test.run 'TestChipsMatchCPU|TestHardwareAwareTrainingMatchesCPU' -test.v > "$logs/chips.log" 2>&1 || rc=1
grep -E -- '--- (PASS|FAIL|SKIP)|CHIPS|HWTRAINED' "$logs/chips.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: /  /' | head -10
grep -E -A3 -- '--- FAIL' "$logs/chips.log" | head
timeout 150 "$dir/kernels.test" -test.run '^$' -test.bench 'BenchmarkChips' -test.benchtime 2x > "$logs/chips-bench.log" 2>&1 || rc=1
awk '/^BenchmarkChips/ { for (i = 1; i < NF; i++) { if ($(i+1) == "chip-samples/s") c = $i; if ($(i+1) == "s/1000chips") s = $i }
  printf "%-40s %14.0f chip-samples/s %8.3f s per 1000 chips (targets: Yin-Yang x 1000 samples 0.2 s, MNIST x 10000 10 s)\n", $1, c, s }' "$logs/chips-bench.log"
grep -E '^(FAIL|panic)' "$logs/chips-bench.log" | head -3
step "benchmarks (kernels.test)"
timeout 120 "$dir/kernels.test" -test.run '^$' -test.bench 'Benchmark[^C]' -test.benchtime 3x > "$logs/bench.log" 2>&1 || rc=1
awk -v peak="$peak" 'BEGIN {split(peak, p, " ")}
  /^Benchmark/ {
    sps = ""; gf = ""; gb = ""; ns = ""; us = ""; eu = ""; nss = "";
    for (i = 1; i < NF; i++) {
      if ($(i+1) == "samples/s") sps = $i;
      if ($(i+1) == "ns/op") ns = $i;
      if ($(i+1) == "model-GFLOP/s") gf = $i;
      if ($(i+1) == "model-GB/s") gb = $i;
      if ($(i+1) == "us/step") us = $i;
      if ($(i+1) == "enqueue-us") eu = $i;
      if ($(i+1) == "neuron-solves/s") nss = $i;
    }
    if (nss != "") { printf "%-50s %12.0f neuron-solves/s %9.4f s/op\n", $1, nss, ns/1e9; nss = ""; next }
    if (us != "") { printf "%-50s %9.1f us per training step\n", $1, us; next }
    if (eu != "") { printf "%-50s %9.2f us per launch on the host\n", $1, eu; next }
    line = sprintf("%-50s %12.0f samples/s %9.4f s/op", $1, sps, ns/1e9);
    if (gf != "" && p[1] > 0) line = line sprintf("  ~%.1f%% fp64 peak, ~%.1f%% bandwidth (cost model; the DRAM counters read far less, see bench/NOTES.md)", 100*gf/(1000*p[1]), 100*gb/(1000*p[2]));
    print line
  }' "$logs/bench.log"
grep -E '^(FAIL|panic)|Error|error' "$logs/bench.log" | head -5
if [ "${PROFILE:-1}" != 0 ]; then
  step "kernel profile (device time per kernel, CUDA events)"
  DELGRAD_PROFILE=1 timeout 60 "$dir/kernels.test" -test.run 'TestProfileKernels' -test.v > "$logs/profile.log" 2>&1 || rc=1
  grep PROFILE "$logs/profile.log" | sed 's/^ *[a-z_]*\.go:[0-9]*: PROFILE //' | awk '/wall/ {print; n=0; next} {if (n++ < 8) print}'
  grep -E -A3 -- '--- FAIL' "$logs/profile.log" | head
fi
if [ "${SUITE:-1}" != 0 ]; then
  # The GPU against this machine's CPU (one core and all cores), in one run.
  step "delgrad bench -device all"
  timeout 240 "$dir/delgrad" bench -device all -quiet -batches 150,4096,65536 -repeats 3 -min-time 100ms -max-step 1s \
    -cases '^(yinyang-4-30-3-(axonal|synaptic)-tau2|yinyang-4-30-3-none-tau1|mnist16-256-128-10|mnist-784-350-10)$' \
    -out "$logs/bench-suite" > "$logs/suite.log" 2>&1 || rc=1
  tail -3 "$logs/suite.log"
  sed -n '/## Best/,/## All/p' "$logs/bench-suite/report.md" | grep '^|'
fi
if [ "${POPTRAIN:-1}" != 0 ]; then
  # The target: 40 Yin-Yang H30_WA seeds x 300 epochs in <= 10 s.
  step "delgrad train -device gpu -config yin_yang_H30_WA -seeds 1-40 (300 epochs)"
  start=$(date +%s.%N)
  timeout 300 "$dir/delgrad" train -device gpu -config yin_yang_H30_WA -seeds 1-40 -quiet -out "$logs/pop-H30_WA" -force > "$logs/train-pop.log" 2>&1 || rc=1
  end=$(date +%s.%N)
  tail -2 "$logs/train-pop.log"
  awk -v a="$start" -v b="$end" 'BEGIN {printf "wall time %.2f s\n", b-a}'
fi
if [ "${TRAIN:-1}" != 0 ]; then
  for cfg in "yin_yang_H30_WA 300" "mnist_784 1"; do
    set -- $cfg
    step "delgrad train -device gpu -config $1 -epochs $2"
    start=$(date +%s.%N)
    timeout 60 "$dir/delgrad" train -device gpu -config "$1" -epochs "$2" -quiet -out "$logs/run-$1" -force > "$logs/train-$1.log" 2>&1 || rc=1
    end=$(date +%s.%N)
    tail -3 "$logs/train-$1.log"
    awk -v a="$start" -v b="$end" 'BEGIN {printf "wall time %.2f s\n", b-a}'
  done
fi
exit $rc
