# Session 9, device call 5 (bin/ab from `scripts/gpu-build-ab.sh da5fa91`: old = da5fa91, new = 8b11730)
set -u
bin=$(mktemp -d); for v in old new; do gunzip -c bin/ab/kernels-$v.test.gz > $bin/$v; chmod +x $bin/$v; done
export DELGRAD_MNIST=bin/ab/mnist
timeout 60 $bin/new -test.run 'TestParity|TestTrainingMatchesCPU' -test.v > $OUT/checks.log 2>&1; echo "checks rc=$?"
grep -E '^--- |TRAINED' $OUT/checks.log | head; grep PARITY $OUT/checks.log | awk '{print $(NF-2), $NF}' | sort -u | head -3
for r in 1 2; do for v in old new; do
  timeout 60 $bin/$v -test.run '^$' -test.bench 'Warps/mnist16_256-128-10/B(50|200)/(thread|both)$|ForwardBackward/mnist16' -test.benchtime 1s 2>&1 | awk -v v=$v '/^Benchmark/ {for(i=2;i<NF;i++) if($(i+1)=="samples/s") print v, $1, $i}'
done; done
