#!/usr/bin/env bash
# Hardware-aware 16x16 MNIST: trains configs/16x16_mnist_hwaware.toml with the chip model in
# the loop and the same network without it (train -ideal), each seed as one population,
# evaluates every network on the same held-out simulated BrainScaleS-2 chips (delgrad
# robustness) and writes the MNIST section of results/bss2.md.
# Usage (from the repository root):
#   [SEEDS=1-3] [EPOCHS=30] [CHIPS=1000] [DEVICE=cpu|gpu|auto] [TRAIN=0] scripts/hwaware-mnist.sh
# (TRAIN=0 reuses the runs already in runs/hwaware_mnist and only evaluates them).
set -euo pipefail
seeds=${SEEDS:-1-3}
seeds=${seeds// /,}
epochs=${EPOCHS:-30}
chips=${CHIPS:-1000}
device=${DEVICE:-cpu}
go build -o bin/delgrad ./cmd/delgrad
dir=runs/hwaware_mnist
mkdir -p "$dir" results
if [ "${TRAIN:-1}" != 0 ]; then
  bin/delgrad train -config 16x16_mnist_hwaware -seeds "$seeds" -epochs "$epochs" -device "$device" -out "$dir/chip" -quiet -force
  bin/delgrad train -config 16x16_mnist_hwaware -ideal -seeds "$seeds" -epochs "$epochs" -device "$device" -out "$dir/ideal" -quiet -force
fi
source "$(dirname "$0")/seeds.sh"
list=$(seed_list "$seeds") || exit 2
for s in $list; do
  bin/delgrad robustness -run "$dir/chip/seed$s" -compare "$dir/ideal/seed$s" -chips "$chips" -device "$device" -quiet
done
python3 - "$dir" "$chips" "$epochs" "$seeds" "$device" $list <<'PY'
import json, os, platform, re, statistics, subprocess, sys
d, chips, epochs, seeds, device = sys.argv[1:6]
runs = ['%s/chip/seed%s' % (d, s) for s in sys.argv[6:]]
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.machine())
rows, means = [], {'chip': [], 'ideal': []}
for run in runs:
    s = run.rsplit('seed', 1)[1]
    rob = json.load(open(run + '/robustness/summary.json'))
    for i, kind in enumerate(['chip', 'ideal']):
        r = rob['runs'][i]
        c = r['chip_accuracy']
        means[kind].append(c['mean'])
        rows.append('| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.0f |' % (
            'trained on chips' if kind == 'chip' else 'trained ideal (-ideal)', s, 100 * r['ideal_accuracy'],
            100 * c['mean'], 100 * c['std'], 100 * c['p5'], 100 * c['min'], 100 * c['max'], r['seconds'], r['samples_per_second']))
    engine = rob['engine']
    samples = rob['samples']
go = subprocess.run(['go', 'version'], capture_output=True, text=True).stdout.split()[2]
date = subprocess.run(['date', '-u', '+%Y-%m-%d'], capture_output=True, text=True).stdout.strip()
sec = ['<!-- hwaware-mnist: begin (written by scripts/hwaware-mnist.sh) -->',
       '## Hardware-aware 16x16 MNIST on simulated BrainScaleS-2 chips', '',
       'Machine: %s, %d cores; %s; %s; engine: %s.' % (cpu, os.cpu_count(), go, date, engine),
       'Produced by `SEEDS=%s EPOCHS=%s CHIPS=%s DEVICE=%s scripts/hwaware-mnist.sh`:' % (seeds, epochs, chips, device), '',
       '    bin/delgrad train -config 16x16_mnist_hwaware -seeds %s -epochs %s -out %s/chip' % (seeds, epochs, d),
       '    bin/delgrad train -config 16x16_mnist_hwaware -ideal -seeds %s -epochs %s -out %s/ideal' % (seeds, epochs, d),
       '    bin/delgrad robustness -run %s/chip/seedS -compare %s/ideal/seedS -chips %s' % (d, d, chips), '',
       'The network is 256-246-10, weights only: the reference\'s 16x16 MNIST network on the chip,',
       'which fills its 512 neuron circuits (configs/16x16_mnist_hwaware.toml says which terms are',
       'the reference\'s and which are assumptions). Every final network is evaluated on the same',
       '%s chips (robustness seed 12345) on all %d test samples; "ideal engine" is the same network' % (chips, samples),
       'without the chip.', '',
       '| network | seed | ideal engine % | chips: mean % | std | 5th pct. % | worst chip % | best chip % | eval time (s) | chips x samples / s |',
       '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'] + rows + ['',
       'Mean over seeds of the mean chip accuracy: trained on chips %.2f%%, trained ideal %.2f%%.' % (
           100 * statistics.mean(means['chip']), 100 * statistics.mean(means['ideal'])),
       '<!-- hwaware-mnist: end -->']
path = 'results/bss2.md'
text = open(path).read() if os.path.exists(path) else ''
block = '\n'.join(sec) + '\n'
m = re.search(r'<!-- hwaware-mnist: begin.*?<!-- hwaware-mnist: end -->\n', text, re.S)
text = text[:m.start()] + block + text[m.end():] if m else text.rstrip('\n') + '\n\n' + block
open(path + '.tmp', 'w').write(text)
os.replace(path + '.tmp', path)
print(block)
PY
