#!/usr/bin/env python3
"""Estimates a best-of-K recipe (issue 21) from the runs of one sweep grid point: over every group
of K of its seeds, the test accuracy of the run with the best validation accuracy (final, or at
epoch 150), as training K seeds and keeping the one validation prefers would give.
Usage: scripts/best-of-k.py POINTDIR... (POINTDIR holds seedN/summary.json and metrics.csv)."""
import glob, json, itertools, statistics, csv, sys
def load(pd):
    out=[]
    for r in glob.glob(pd+'/seed*/summary.json'):
        j=json.load(open(r))
        m=list(csv.DictReader(open(r.replace('summary.json','metrics.csv'))))
        out.append((100*j['final_validation_accuracy'],100*j['test_accuracy'],100*float(m[149]['val_accuracy'])))
    return out
for pd in sys.argv[1:]:
    runs=load(pd.rstrip('/'))
    print(pd, 'n=%d'%len(runs))
    for K in (2,3,4):
        for key,name in ((0,'final validation'),(2,'validation at epoch 150')):
            ts=[max(c,key=lambda r:r[key])[1] for c in itertools.combinations(runs,K)]
            print('  K=%d by %-24s test mean %.2f, share of groups whose pick is < 95%%: %.3f, worst pick %.1f'%(K,name,statistics.mean(ts),sum(t<95 for t in ts)/len(ts),min(ts)))
