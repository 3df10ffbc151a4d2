#!/usr/bin/env bash
# Trains the hardware-aware Yin-Yang configs (and the WA network without the
# chip model, train -ideal) for each seed, evaluates every run on the same
# 1000 held-out simulated BrainScaleS-2 chips (delgrad robustness) and writes
# results/bss2.md.
# Usage (from the repository root): [SEEDS="1 2 3"] [CHIPS=1000] [TRAIN=0] scripts/hwaware-sweep.sh
# (TRAIN=0 reuses the runs already in runs/hwaware and only evaluates them).
set -euo pipefail
read -r -a seeds <<< "${SEEDS:-1 2 3}"
chips=${CHIPS:-1000}
go build -o bin/delgrad ./cmd/delgrad
out=results/bss2.md
mkdir -p results runs/hwaware
field() { python3 -c "import json;r=json.load(open('$1/summary.json'))['runs'][$2];print('%.2f'%(100*r['chip_accuracy']['$3']) if '$3'!='ideal' else '%.2f'%(100*r['ideal_accuracy']))"; }
sps() { python3 -c "import json;print('%.0f'%json.load(open('$1/summary.json'))['runs'][$2]['samples_per_second'])"; }
secs() { python3 -c "import json;print('%.1f'%json.load(open('$1/summary.json'))['runs'][$2]['seconds'])"; }
mean() { python3 -c "import sys;v=[float(x) for x in sys.argv[1:]];print('%.2f'%(sum(v)/len(v)))" "$@"; }
rows=()
for s in "${seeds[@]}"; do
  if [ "${TRAIN:-1}" != 0 ]; then
    for c in WA W; do
      bin/delgrad train -config yin_yang_hwaware_$c -seed "$s" -out runs/hwaware/$c-$s -quiet -force
    done
    bin/delgrad train -config yin_yang_hwaware_WA -ideal -seed "$s" -out runs/hwaware/WA_ideal-$s -quiet -force
  fi
  bin/delgrad robustness -run runs/hwaware/WA-$s -compare runs/hwaware/WA_ideal-$s -chips "$chips" -quiet
  bin/delgrad robustness -run runs/hwaware/W-$s -chips "$chips" -quiet
done
{
  echo "# Hardware-aware Yin-Yang on simulated BrainScaleS-2 chips"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(go version | cut -d' ' -f3); $(date -u +%Y-%m-%d)."
  echo "Produced by \`SEEDS=\"${seeds[*]}\" CHIPS=$chips scripts/hwaware-sweep.sh\`. Per seed S:"
  echo
  echo "    bin/delgrad train -config yin_yang_hwaware_WA -seed S -out runs/hwaware/WA-S"
  echo "    bin/delgrad train -config yin_yang_hwaware_W  -seed S -out runs/hwaware/W-S"
  echo "    bin/delgrad train -config yin_yang_hwaware_WA -ideal -seed S -out runs/hwaware/WA_ideal-S"
  echo "    bin/delgrad robustness -run runs/hwaware/WA-S -compare runs/hwaware/WA_ideal-S -chips $chips"
  echo "    bin/delgrad robustness -run runs/hwaware/W-S -chips $chips"
  echo
  echo "Every network (the final one, after 300 epochs) is evaluated on the same $chips chips"
  echo "(robustness seed 12345: streams training never draws from), on the published 1000-sample"
  echo "test split, with the chip model of configs/yin_yang_hwaware_WA.toml's [bss2] section."
  echo "\"ideal\" is the same network on the ideal engine (no chip). WA_ideal is trained without"
  echo "the chip model (train -ideal) and evaluated on the same chips."
  echo
  echo "| run | seed | ideal engine % | chips: mean % | std | 5th pct. % | min % | max % | eval time (s) | chips x samples / s |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} > "$out.tmp"
declare -A means
for c in WA W WA_ideal; do
  vals=()
  for s in "${seeds[@]}"; do
    case $c in
      WA) d=runs/hwaware/WA-$s/robustness; i=0 ;;
      WA_ideal) d=runs/hwaware/WA-$s/robustness; i=1 ;;
      W) d=runs/hwaware/W-$s/robustness; i=0 ;;
    esac
    m=$(field "$d" $i mean)
    vals+=("$m")
    echo "| $c | $s | $(field "$d" $i ideal) | $m | $(field "$d" $i std) | $(field "$d" $i p5) | $(field "$d" $i min) | $(field "$d" $i max) | $(secs "$d" $i) | $(sps "$d" $i) |" >> "$out.tmp"
  done
  means[$c]=$(mean "${vals[@]}")
done
{
  echo
  echo "Mean over seeds of the mean chip accuracy: WA ${means[WA]}%, W ${means[W]}%, WA trained without the chip model ${means[WA_ideal]}%."
} >> "$out.tmp"
# Keep the hardware-aware MNIST section (scripts/hwaware-mnist.sh writes it).
if [ -f "$out" ] && grep -q '<!-- hwaware-mnist: begin' "$out"; then
  { echo; sed -n '/<!-- hwaware-mnist: begin/,/<!-- hwaware-mnist: end -->/p' "$out"; } >> "$out.tmp"
fi
mv "$out.tmp" "$out"
cat "$out"
