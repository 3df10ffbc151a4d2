set -u
bin=$(mktemp -d); for f in bin/ab/*.gz; do b=$(basename $f .gz); gunzip -c $f > $bin/$b; chmod +x $bin/$b; done
export DELGRAD_MNIST=bin/ab/mnist
for r in 1 2; do for v in old new; do
  echo "== $v round $r"
  timeout 60 $bin/kernels-$v.test -test.run '^$' -test.bench 'ForwardBackward' -test.benchtime 1s 2>&1 | grep -E '^Benchmark' | awk '{for(i=2;i<NF;i++) if($(i+1)=="samples/s") print $1, $i}'
  timeout 60 $bin/delgrad-$v bench -device gpu -quiet -batches 4096 -modes fwdbwd,train -repeats 5 -min-time 200ms -cases '^(mnist16-256-128-10|yinyang-4-30-3-axonal-tau2)$' -out $bin/s-$v-$r > /dev/null 2>&1
  cut -d, -f1,2,5,6 $bin/s-$v-$r/results.csv | grep -v '^case'
done; done
