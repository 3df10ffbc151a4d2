# Sourced by the scripts that take SEEDS: seed_list SPEC prints the seeds of
# a range or list (1-3, 1,2,5, 1-3,10, or "1 2 3"), space-separated, or fails
# with a message.
seed_list() {
  python3 -c "
import sys
out = []
for part in sys.argv[1].replace(' ', ',').split(','):
    if part:
        a, _, b = part.partition('-')
        out += list(range(int(a), int(b or a) + 1))
if not out:
    raise SystemExit('no seeds')
print(' '.join(map(str, out)))" "$1" 2>/dev/null || { echo "SEEDS=$1: give a range (1-3) or a list (1,2,3)" >&2; return 2; }
}
