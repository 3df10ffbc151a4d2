#!/usr/bin/env bash
# Trains every Yin-Yang config for 300 epochs with seeds 1, 2 and 3 and
# writes results/yin_yang.md: test accuracy per seed, mean and wall time.
# Usage: scripts/yinyang-sweep.sh [CONFIG...]   (from the repository root)
set -euo pipefail
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  configs=(yin_yang_H30_W yin_yang_H30_WA yin_yang_H30_WD yin_yang_H30_WS yin_yang_H5_WS)
fi
go build -o bin/delgrad ./cmd/delgrad
out=results/yin_yang.md
mkdir -p results runs/sweep
{
  echo "# Yin-Yang, 300 epochs, reference hyperparameters"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(go version | cut -d' ' -f3); $(date -u +%Y-%m-%d)."
  echo "Command per row: \`bin/delgrad train -config CONFIG -seed SEED -out runs/sweep/CONFIG-SEED -quiet -force\`"
  echo "(all rows: \`scripts/yinyang-sweep.sh\`). Test split: the published 1000 samples (seed 40)."
  echo
  echo "| config | seed 1 | seed 2 | seed 3 | mean | wall time per run (s) |"
  echo "| --- | --- | --- | --- | --- | --- |"
} > "$out.tmp"
for c in "${configs[@]}"; do
  accs=(); secs=()
  for s in 1 2 3; do
    d=runs/sweep/$c-$s
    t0=$(date +%s.%N)
    bin/delgrad train -config "$c" -seed "$s" -out "$d" -quiet -force > /dev/null
    t1=$(date +%s.%N)
    accs+=("$(python3 -c "import json;print(100*json.load(open('$d/summary.json'))['test_accuracy'])")")
    secs+=("$(python3 -c "print(round($t1-$t0,1))")")
  done
  mean=$(python3 -c "print('%.2f'%(sum([${accs[0]},${accs[1]},${accs[2]}])/3))")
  printf '| %s | %.1f | %.1f | %.1f | %s | %s / %s / %s |\n' "$c" "${accs[0]}" "${accs[1]}" "${accs[2]}" "$mean" "${secs[@]}" >> "$out.tmp"
  echo "$c: ${accs[*]} mean $mean" >&2
done
mv "$out.tmp" "$out"
cat "$out"
