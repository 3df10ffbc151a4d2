#!/usr/bin/env bash
# Reads the hardware counters of the main kernels with Nsight Compute on a
# GPU machine (from scripts/gpu-build.sh's binaries): per kernel launch, the
# SpeedOfLight section (memory and compute throughput as a share of the
# device's peak) of one forward+backward pass per benchmark network.
# Usage: [CASES='name:launches ...'] scripts/gpu-ncu.sh [BINDIR]; writes ncu-<case>.csv to $OUT (or /tmp).
# Clocks are left as they are (--clock-control none).
set -uo pipefail
dir=${1:-bin/gpu}
out=${OUT:-/tmp}
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "no ncu on this machine"; exit 1; }
rc=0
# Launches per forward+backward pass (Engine.Forward then Engine.Backward):
# mux, 3 per layer forward, clean, 8 per layer backward (+2 per axonal
# layer for the delay sums), unmux.
for spec in ${CASES:-yinyang_4-30-3_axonal:29 mnist16_256-128-10:25 mnist_784-350-10:25}; do
  c=${spec%:*} n=${spec#*:}
  echo "== $c"
  # The benchmark runs the pass 1 + 2 times; the first pass is skipped and
  # the second read whole.
  timeout 150 "$ncu" --clock-control none --section SpeedOfLight --csv -k 'regex:^dg_' --launch-skip "$n" --launch-count "$n" \
    "$dir/kernels.test" -test.run '^$' -test.bench "ForwardBackward/$c\$" -test.benchtime 2x > "$out/ncu-$c.csv" 2> "$out/ncu-$c.err" || rc=1
  # kernel, metric, value: the throughput rows only.
  awk -F'","' '/Throughput/ {gsub(/"/, "", $NF); printf "%-16s %-32s %s\n", $5, $(NF-2), $NF}' "$out/ncu-$c.csv" | head -80
  tail -2 "$out/ncu-$c.err"
done
exit $rc
