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
  echo "Final: the network after the last epoch (the reference's protocol). Best val.: the"
  echo "parameters of the epoch with the highest validation accuracy (model selection on the"
  echo "validation split; the test split is never used to choose)."
  echo
  echo "| config | final: seed 1 / 2 / 3 | final mean | best val.: seed 1 / 2 / 3 | best val. mean | wall time per run (s) |"
  echo "| --- | --- | --- | --- | --- | --- |"
} > "$out.tmp"
for c in "${configs[@]}"; do
  accs=(); bests=(); secs=()
  for s in 1 2 3; do
    d=runs/sweep/$c-$s
    t0=$(date +%s.%N)
    bin/delgrad train -config "$c" -seed "$s" -out "$d" -quiet -force > /dev/null
    t1=$(date +%s.%N)
    accs+=("$(python3 -c "import json;print('%.1f'%(100*json.load(open('$d/summary.json'))['test_accuracy']))")")
    bests+=("$(python3 -c "import json;print('%.1f'%(100*json.load(open('$d/summary.json'))['best_validation_test_accuracy']))")")
    secs+=("$(python3 -c "print(round($t1-$t0,1))")")
  done
  mean=$(python3 -c "print('%.2f'%(sum([${accs[0]},${accs[1]},${accs[2]}])/3))")
  bmean=$(python3 -c "print('%.2f'%(sum([${bests[0]},${bests[1]},${bests[2]}])/3))")
  echo "| $c | ${accs[0]} / ${accs[1]} / ${accs[2]} | $mean | ${bests[0]} / ${bests[1]} / ${bests[2]} | $bmean | ${secs[0]} / ${secs[1]} / ${secs[2]} |" >> "$out.tmp"
  echo "$c: final ${accs[*]} mean $mean; best val. ${bests[*]} mean $bmean" >&2
done
mv "$out.tmp" "$out"
cat "$out"
