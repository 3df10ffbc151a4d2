#!/usr/bin/env bash
# Trains the hardware-aware Yin-Yang configs as one sweep each (sweeps/hwaware/*.toml: seeds
# 1-3 as a population; each run is what `delgrad train -config C -seed S` writes), the WA
# network without the chip model (train -ideal -seeds), evaluates every run on the same
# 1000 held-out simulated BrainScaleS-2 chips (delgrad robustness) and writes results/bss2.md
# (keeping its hardware-aware MNIST section, which scripts/hwaware-mnist.sh writes).
# Usage (from the repository root): [SEEDS=1-3] [CHIPS=1000] [TRAIN=0] scripts/hwaware-sweep.sh
# (TRAIN=0 reuses the runs already in runs/hwaware and only evaluates them; SEEDS other than
# the sweep files' 1-3 train with train -seeds instead of the sweep files).
set -euo pipefail
seedspec=${SEEDS:-1-3}
seedspec=${seedspec// /,} # "1 2 3" as well as 1-3 or 1,2,3
chips=${CHIPS:-1000}
go build -o bin/delgrad ./cmd/delgrad
source "$(dirname "$0")/seeds.sh"
list=$(seed_list "$seedspec") || exit 2
read -r -a seeds <<< "$list"
out=results/bss2.md
mkdir -p results runs/hwaware
field() { python3 -c "import json;r=json.load(open('$1/summary.json'))['runs'][$2];print('%.2f'%(100*r['chip_accuracy']['$3']) if '$3'!='ideal' else '%.2f'%(100*r['ideal_accuracy']))"; }
sps() { python3 -c "import json;print('%.0f'%json.load(open('$1/summary.json'))['runs'][$2]['samples_per_second'])"; }
secs() { python3 -c "import json;print('%.1f'%json.load(open('$1/summary.json'))['runs'][$2]['seconds'])"; }
mean() { python3 -c "import sys;v=[float(x) for x in sys.argv[1:]];print('%.2f'%(sum(v)/len(v)))" "$@"; }
run() { echo "runs/hwaware/$1/$2/seed$3"; } # run CONFIG POINT SEED
if [ "${TRAIN:-1}" != 0 ]; then
  for c in WA W; do
    if [ "$seedspec" = 1-3 ]; then
      bin/delgrad sweep -file sweeps/hwaware/yin_yang_hwaware_$c.toml -out runs/hwaware/$c -quiet -force
    else
      bin/delgrad train -config yin_yang_hwaware_$c -seeds "$seedspec" -out runs/hwaware/$c/base -quiet -force
    fi
  done
  bin/delgrad train -config yin_yang_hwaware_WA -ideal -seeds "$seedspec" -out runs/hwaware/WA_ideal/base -quiet -force
fi
for s in "${seeds[@]}"; do
  bin/delgrad robustness -run "$(run WA base "$s")" -compare "$(run WA_ideal base "$s")" -chips "$chips" -quiet
  bin/delgrad robustness -run "$(run W base "$s")" -chips "$chips" -quiet
done
{
  echo "# Hardware-aware Yin-Yang on simulated BrainScaleS-2 chips"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(go version | cut -d' ' -f3); $(date -u +%Y-%m-%d)."
  echo "Produced by \`SEEDS=$seedspec CHIPS=$chips scripts/hwaware-sweep.sh\`:"
  echo
  echo "    bin/delgrad sweep -file sweeps/hwaware/yin_yang_hwaware_WA.toml -out runs/hwaware/WA"
  echo "    bin/delgrad sweep -file sweeps/hwaware/yin_yang_hwaware_W.toml -out runs/hwaware/W"
  echo "    bin/delgrad train -config yin_yang_hwaware_WA -ideal -seeds $seedspec -out runs/hwaware/WA_ideal/base"
  echo "    bin/delgrad robustness -run runs/hwaware/WA/base/seedS -compare runs/hwaware/WA_ideal/base/seedS -chips $chips"
  echo "    bin/delgrad robustness -run runs/hwaware/W/base/seedS -chips $chips"
  echo
  echo "Each run of a sweep (a population of the seeds) is, byte for byte, what"
  echo "\`delgrad train -config C -seed S\` writes."
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
      WA) d=$(run WA base "$s")/robustness; i=0 ;;
      WA_ideal) d=$(run WA base "$s")/robustness; i=1 ;;
      W) d=$(run W base "$s")/robustness; i=0 ;;
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
