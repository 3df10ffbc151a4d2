# Session 9, device call 4 (bin/ab from `scripts/gpu-build-ab.sh 055db9c`, new = da5fa91 + TestProfileKernels' small batches)
set -u
bin=$(mktemp -d); gunzip -c bin/ab/kernels-new.test.gz > $bin/k; chmod +x $bin/k
export DELGRAD_MNIST=bin/ab/mnist
DELGRAD_PROFILE=1 timeout 150 $bin/k -test.run TestProfileKernels -test.v > $OUT/profile.log 2>&1
grep -E 'PROFILE (fwd|train)' $OUT/profile.log
grep -A12 'PROFILE fwd+bwd mnist16_256-128-10 B=50:' $OUT/profile.log
for c in B50/both B200/thread; do
  timeout 60 $bin/k -test.run '^$' -test.bench "Warps/mnist16_256-128-10/$c\$" -test.benchtime 3s -test.cpuprofile $OUT/${c%/*}.prof 2>&1 | grep Benchmark
done
