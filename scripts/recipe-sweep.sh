#!/usr/bin/env bash
# Issue 21's recipe study: runs a recipe sweep (default sweeps/recipe/yin_yang_H30_WA.toml:
# 20 seeds per grid point, 300 epochs) and writes results/recipes.md with every seed's final
# validation and test accuracy per grid point. The recipe is chosen on the validation split
# (the mean final validation accuracy); the test split is only reported.
# Usage (from the repository root): scripts/recipe-sweep.sh [SWEEP.toml...]
# An interrupted sweep continues where it stopped: run the same command.
set -euo pipefail
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(sweeps/recipe/yin_yang_H30_WA.toml)
go build -o bin/delgrad ./cmd/delgrad
dirs=()
for f in "${files[@]}"; do
  d=runs/recipe/$(basename "$f" .toml)
  mkdir -p runs/recipe
  start=$(date +%s)
  bin/delgrad sweep -file "$f" -out "$d" -quiet
  [ -f "$d/wall_seconds" ] || echo $(( $(date +%s) - start )) > "$d/wall_seconds"
  bin/delgrad sweep -report "$d" > /dev/null
  dirs+=("$d")
done
python3 - "${dirs[@]}" <<'PY'
import glob, json, os, statistics, subprocess, sys
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
go = subprocess.run(['go', 'version'], capture_output=True, text=True).stdout.split()[2]
date = subprocess.run(['date', '-u', '+%Y-%m-%d'], capture_output=True, text=True).stdout.strip()
head = ['# Training recipes (issue 21)', '',
        'Final networks after 300 epochs; the published test split; a recipe is chosen on the',
        'validation split (mean final validation accuracy), never on the test split. Each section',
        'is a sweep, written by `scripts/recipe-sweep.sh sweeps/recipe/NAME.toml` (its machine and',
        'date under its heading); a rerun replaces its own section and keeps the others.', '']
out = []
machine = 'Machine: %s, %d cores; %s; %s.' % (cpu, os.cpu_count(), go, date)
def stats(v):
    m = statistics.mean(v); sd = statistics.stdev(v) if len(v) > 1 else 0
    return m, sd, sd / len(v) ** 0.5
for d in sys.argv[1:]:
    out += ['## %s' % os.path.basename(d), '', machine, '',
            '    bin/delgrad sweep -file sweeps/recipe/%s.toml -out %s' % (os.path.basename(d), d), '',
            '| grid point | validation % (mean +- SD, SE) | test % (mean +- SD, SE) | test min % | test seeds < 95% | test per seed (seeds in order) |',
            '| --- | --- | --- | --- | --- | --- |']
    for p in sorted(glob.glob(d + '/*/point.toml')):
        pd = os.path.dirname(p)
        runs = sorted(glob.glob(pd + '/seed*/summary.json'), key=lambda s: int(s.split('seed')[-1].split('/')[0]))
        if not runs:
            continue
        val = [100 * json.load(open(r))['final_validation_accuracy'] for r in runs]
        test = [100 * json.load(open(r))['test_accuracy'] for r in runs]
        vm, vsd, vse = stats(val); tm, tsd, tse = stats(test)
        out.append('| %s | %.2f +- %.2f (%.2f) | %.2f +- %.2f (%.2f) | %.1f | %d of %d | %s |' % (
            os.path.basename(pd), vm, vsd, vse, tm, tsd, tse, min(test), sum(t < 95 for t in test), len(test),
            ' '.join('%.1f' % t for t in test)))
    out.append('')
# The notes after the marker are kept, and so are the sections of sweeps not run now.
notes, kept = '', {}
if os.path.exists('results/recipes.md'):
    old = open('results/recipes.md').read()
    i = old.find('<!-- notes -->')
    if i >= 0:
        notes, old = '\n' + old[i:], old[:i]
    for sec in ('\n' + old).split('\n## ')[1:]:
        kept[sec.split('\n', 1)[0].strip()] = '## ' + sec.rstrip('\n') + '\n'
new = {}
for sec in '\n'.join(out).split('\n## '):
    sec = sec[3:] if sec.startswith('## ') else sec
    if sec.strip():
        new[sec.split('\n', 1)[0].strip()] = '## ' + sec.rstrip('\n') + '\n'
kept.update(new)
open('results/recipes.md.tmp', 'w').write('\n'.join(head) + '\n' + '\n'.join(kept.values()) + notes)
os.replace('results/recipes.md.tmp', 'results/recipes.md')
print('\n'.join(out))
PY
