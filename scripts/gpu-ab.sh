#!/usr/bin/env bash
# Runs on a GPU machine from scripts/gpu-build-ab.sh's bin/ab: the parity
# and 20-epoch checks of the new build, then the old and new builds'
# benchmarks and training runs alternately (old, new, old, new), so that
# the two are compared in one lease. Logs to $OUT (or /tmp/delgrad-ab).
# Usage: [BENCH=regexp] [TRAIN="config:epochs ..."] [ROUNDS="old new"] [SUITE="thread small"] scripts/gpu-ab.sh [DIR]
# (SUITE: also run the new build's bench suite on the GPU once per DELGRAD_GPU_WARPS value)
# (timed in session 9 on an H200: ROUNDS="old new" SUITE="thread small" TRAIN_WARPS=small took
# 205 s of wall time, plus about 30 s for the machine's start and the transfers)
set -uo pipefail
dir=${1:-bin/ab}
out=${OUT:-/tmp/delgrad-ab}
mkdir -p "$out"
bench=${BENCH:-'TrainEpoch|TrainStepSmall|ForwardBackward'}
train=${TRAIN-'yin_yang_H30_WA:300 16x16_mnist:1 mnist_784:1'}
bin=$(mktemp -d)
for f in "$dir"/*.gz; do b=$(basename "$f" .gz); gunzip -c "$f" > "$bin/$b" && chmod +x "$bin/$b"; done
export DELGRAD_MNIST=$dir/mnist
echo "old $(cat "$dir/old.rev"), new $(cat "$dir/new.rev")"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
rc=0
echo "== parity and 20 epochs against the CPU (new) ($(date +%T))"
timeout 180 "$bin/kernels-new.test" -test.run 'TestParity|TestTrainingMatchesCPU' -test.v > "$out/checks.log" 2>&1 || rc=1
grep -E '^--- |TRAINED|^(FAIL|panic)' "$out/checks.log" | head -20
echo "== per-pair kernels: one thread against one warp per (sample, neuron) pair (new) ($(date +%T))"
timeout 200 "$bin/kernels-new.test" -test.run '^$' -test.bench Warps -test.benchtime 1s > "$out/bench-warps.log" 2>&1 || rc=1
awk '/^Benchmark/ {for (i = 2; i < NF; i++) if ($(i+1) == "samples/s") printf "%-60s %s samples/s\n", $1, $i}' "$out/bench-warps.log"
echo "== benchmarks, old and new alternately ($bench) ($(date +%T))"
for v in ${ROUNDS-old new old new}; do
  timeout 200 "$bin/kernels-$v.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1s > "$out/bench-$v.log" 2>&1 || rc=1
  awk -v v=$v '/^Benchmark/ {s = ""; for (i = 2; i < NF; i++) if ($(i+1) ~ /samples\/s|us\/step|enqueue-us/) s = s sprintf(" %s %s", $i, $(i+1)); printf "%-4s %-55s%s\n", v, $1, s}' "$out/bench-$v.log"
done
if [ -n "${SUITE-}" ]; then
  # The bench suite of the new build on the GPU, once per per-pair policy
  # (DELGRAD_GPU_WARPS), each report packed as $out/suite-POLICY.tgz.
  for w in $SUITE; do bash "$(dirname "$0")/gpu-suite.sh" "$w" "$bin/delgrad-new" "$out" || rc=1; done
fi
echo "== delgrad train -device gpu -quiet, old and new alternately (wall time) ($(date +%T))"
# TRAIN_WARPS=small also trains the new build with DELGRAD_GPU_WARPS=small
# after each of its rounds (labelled new/small).
variants=""
for v in ${ROUNDS-old new old new}; do
  variants="$variants $v"
  if [ "$v" = new ] && [ -n "${TRAIN_WARPS-}" ]; then variants="$variants new/$TRAIN_WARPS"; fi
done
for vw in $variants; do
  v=${vw%/*} w=""
  [ "$vw" != "$v" ] && w=${vw#*/}
  for spec in $train; do
    cfg=${spec%:*} ep=${spec#*:}
    s=$(date +%s.%N)
    DELGRAD_GPU_WARPS=$w timeout 120 "$bin/delgrad-$v" train -device gpu -config "$cfg" -epochs "$ep" -quiet -out "$out/run-${vw/\//-}-$cfg" -force > "$out/train-${vw/\//-}-$cfg.log" 2>&1 || rc=1
    e=$(date +%s.%N)
    printf '%-9s %-18s %4s epochs %7.2f s  %s\n' "$vw" "$cfg" "$ep" "$(awk -v a="$s" -v b="$e" 'BEGIN {print b-a}')" "$(grep -o 'test accuracy [0-9.]*%' "$out/train-${vw/\//-}-$cfg.log" | head -1)"
  done
done
rm -rf "$bin"
exit $rc
