#!/usr/bin/env bash
# Trains every Yin-Yang config for 300 epochs with each seed and writes
# results/yin_yang.md: for the final network and for the best-validation epoch,
# the mean test accuracy with its standard deviation and standard error over
# the seeds, the mean of the first three seeds, every seed's figure, and the
# wall time per run.
# Usage (from the repository root): [SEEDS="1 2 3"] scripts/yinyang-sweep.sh [CONFIG...]
set -euo pipefail
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  configs=(yin_yang_H30_W yin_yang_H30_WA yin_yang_H30_WD yin_yang_H30_WS yin_yang_H5_WS)
fi
read -r -a seeds <<< "${SEEDS:-1 2 3}"
go build -o bin/delgrad ./cmd/delgrad
out=results/yin_yang.md
mkdir -p results runs/sweep
get() { python3 -c "import json;print('%.1f'%(100*json.load(open('$1/summary.json'))['$2']))"; }
# stats prints: mean, sample standard deviation, standard error, mean of the first three.
stats() {
  python3 - "$@" <<'PY'
import statistics as st, sys
v = [float(x) for x in sys.argv[1:]]
sd = st.stdev(v) if len(v) > 1 else float("nan")
print("%.2f %.2f %.2f %.2f" % (st.mean(v), sd, sd / len(v) ** 0.5, st.mean(v[:3])))
PY
}
# Targets of issue 3 (the DelGrad paper's simulation results); H30_WD has none.
declare -A target=([yin_yang_H30_W]=96.5 [yin_yang_H30_WA]=97.0 [yin_yang_H30_WS]=97.5 [yin_yang_H5_WS]=94.5)
summary=(); finals=(); bestvals=()
for c in "${configs[@]}"; do
  accs=(); bests=(); secs=()
  for s in "${seeds[@]}"; do
    d=runs/sweep/$c-$s
    t0=$(date +%s.%N)
    bin/delgrad train -config "$c" -seed "$s" -out "$d" -quiet -force > /dev/null
    t1=$(date +%s.%N)
    accs+=("$(get "$d" test_accuracy)")
    bests+=("$(get "$d" best_validation_test_accuracy)")
    secs+=("$(python3 -c "print($t1-$t0)")")
  done
  read -r m sd se m3 <<< "$(stats "${accs[@]}")"
  read -r bm bsd bse bm3 <<< "$(stats "${bests[@]}")"
  sm=$(python3 -c "import sys;v=[float(x) for x in sys.argv[1:]];print('%.1f'%(sum(v)/len(v)))" "${secs[@]}")
  summary+=("| $c | ${target[$c]:--} | $m ± $sd (SE $se) | $m3 | $bm ± $bsd (SE $bse) | $bm3 | $sm |")
  finals+=("| $c | ${accs[*]} |")
  bestvals+=("| $c | ${bests[*]} |")
  echo "$c: final mean $m (sd $sd, first three $m3); best val. mean $bm" >&2
done
{
  echo "# Yin-Yang, 300 epochs, reference hyperparameters"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(go version | cut -d' ' -f3); $(date -u +%Y-%m-%d)."
  echo "Command per run: \`bin/delgrad train -config CONFIG -seed SEED -out runs/sweep/CONFIG-SEED -quiet -force\`"
  echo "(the whole file: \`SEEDS=\"${seeds[*]}\" scripts/yinyang-sweep.sh\`). Test split: the published 1000 samples"
  echo "(seed 40). Runs are deterministic: the same seed gives the same figures."
  echo
  echo "Final: the network after the last epoch (the reference's protocol). Best val.: the"
  echo "parameters of the epoch with the highest validation accuracy (model selection on the"
  echo "validation split; the test split is never used to choose). Mean ± sample standard"
  echo "deviation over the ${#seeds[@]} seeds, with the standard error of the mean (SE); \"seeds"
  echo "${seeds[*]:0:3}\" is the mean of the first three seeds alone. Target: issue 3's figure for the mean."
  echo
  echo "| config | target | final, mean ± SD | final, seeds ${seeds[*]:0:3} | best val., mean ± SD | best val., seeds ${seeds[*]:0:3} | wall time per run (s) |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${summary[@]}"
  echo
  echo "Test accuracy (%) of the final network, seeds ${seeds[*]}:"
  echo
  echo "| config | per seed |"
  echo "| --- | --- |"
  printf '%s\n' "${finals[@]}"
  echo
  echo "Test accuracy (%) at the best-validation epoch, seeds ${seeds[*]}:"
  echo
  echo "| config | per seed |"
  echo "| --- | --- |"
  printf '%s\n' "${bestvals[@]}"
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
