//go:build cuda

package kernels

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/configs"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/trainer"
	"gorgonia.org/tensor"
)

// gpu returns the engine, or skips the test with the reason.
func gpu(t testing.TB) *GPU {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("no GPU: %v", err)
	}
	g, err := NewGPU()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// restoreWarps returns a function that gives g back the per-pair policies
// it has now.
func restoreWarps(g *GPU) func() {
	s, n, r := g.WarpSearch, g.WarpNeuron, g.WarpRows
	return func() { g.WarpSearch, g.WarpNeuron, g.WarpRows = s, n, r }
}

func randNet(rng *rand.Rand, regime batch.Regime, kind batch.DelayKind, bias, mux int, sizes ...int) *batch.Network {
	return testnet.Net(rng, testnet.Spec{TauMem: float64(regime), Delay: kind, Bias: bias, Mux: mux, MaxDWNorm: 0.5, Sizes: sizes})
}

// worst returns the largest |a-b|/max(|b|,1) and fails on a silent neuron
// on one side only, and, unless this Go build fuses multiply-adds
// (testnet.GoFuses), on any difference in the bits.
func worst(t *testing.T, what string, got, want []float64) float64 {
	t.Helper()
	exact := !testnet.GoFuses()
	w := 0.0
	for i := range want {
		if math.IsInf(want[i], 1) != math.IsInf(got[i], 1) {
			t.Fatalf("%s[%d]: GPU %g, CPU %g (silent on one side)", what, i, got[i], want[i])
		}
		if exact && math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("%s[%d]: GPU %.17g, CPU %.17g: the engines should agree bit for bit", what, i, got[i], want[i])
		}
		if math.IsInf(want[i], 1) {
			continue
		}
		w = max(w, math.Abs(got[i]-want[i])/math.Max(math.Abs(want[i]), 1))
	}
	return w
}

// TestParity holds the GPU engine to the CPU engine on random networks:
// every regime x delay kind, batch sizes 1, 150 and 4096, a 16x16
// MNIST-sized network at 8192 (longer sum chunks) and at 150, and a
// synaptic 40-50-10 network at 150; each with one thread per (sample,
// neuron) pair in the spike search and neuron phase, with
// WarpSmallBatches, and with a warp per pair everywhere (and a warp per
// sample in the backward pass's first phase, WarpRows); spike times within
// 1e-10, gradients within 1e-8 (the bounds), the same silent
// neurons and clipped gradients; and, as the engines share their exp, log
// and summation order, the same bits (unless this Go build fuses
// multiply-adds).
func TestParity(t *testing.T) {
	g := gpu(t)
	kinds := []batch.DelayKind{batch.NoDelay, batch.Axonal, batch.Dendritic, batch.Synaptic}
	type pcase struct {
		regime batch.Regime
		kind   batch.DelayKind
		b      int
		sizes  []int
	}
	var cases []pcase
	for _, regime := range []batch.Regime{batch.EqualTau, batch.DoubleTau} {
		for _, kind := range kinds {
			for _, b := range []int{1, 150, 4096} {
				cases = append(cases, pcase{regime, kind, b, []int{4, 30, 12, 3}})
			}
		}
	}
	cases = append(cases, pcase{batch.EqualTau, batch.NoDelay, 8192, []int{256, 128, 10}},
		pcase{batch.EqualTau, batch.NoDelay, 150, []int{256, 128, 10}},
		pcase{batch.DoubleTau, batch.Synaptic, 150, []int{40, 50, 10}})
	for _, c := range cases {
		regime, kind, b, sizes := c.regime, c.kind, c.b, c.sizes
		t.Run(fmt.Sprintf("%v/%v/B%d/%v", regime, kind, b, sizes), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(regime), uint64(kind)*7+uint64(b)))
			net := randNet(rng, regime, kind, 1, 2, sizes...)
			F, K := sizes[0], sizes[len(sizes)-1]
			x := batch.NewTimes(b, F)
			for i := range x.Float64s() {
				if rng.Float64() > 0.05 {
					x.Float64s()[i] = 0.15 + 1.85*rng.Float64()
				}
			}
			cpu := batch.NewCPU(0)
			var tc, tg batch.Trace
			if err := cpu.Forward(net, x, &tc); err != nil {
				t.Fatal(err)
			}
			dOut := tensor.New(tensor.WithShape(b, K), tensor.WithBacking(make([]float64, K*b)))
			for i := range dOut.Float64s() {
				dOut.Float64s()[i] = rng.NormFloat64()
			}
			gc := batch.NewGradients(net, b)
			if err := cpu.Backward(net, &tc, dOut, gc); err != nil {
				t.Fatal(err)
			}
			// Other inputs and errors, run before each policy so that the
			// device buffers hold other values: a kernel that skipped some
			// pairs would leave them wrong, not right from an earlier run.
			xOther, dOther := x.Clone().(*tensor.Dense), dOut.Clone().(*tensor.Dense)
			for i, v := range xOther.Float64s() {
				xOther.Float64s()[i] = v + 0.37
			}
			for i := range dOther.Float64s() {
				dOther.Float64s()[i] *= -2
			}
			// The per-(sample, neuron) kernels with one thread per pair,
			// with WarpSmallBatches and with a warp per pair everywhere.
			defer restoreWarps(g)()
			wt, wg := 0.0, 0.0
			for _, p := range []struct {
				name string
				warp func(int64, int64) bool
			}{{"thread", nil}, {"WarpSmallBatches", WarpSmallBatches}, {"warp", func(int64, int64) bool { return true }}} {
				g.WarpSearch, g.WarpNeuron = nil, nil
				var to batch.Trace
				if err := g.Forward(net, xOther, &to); err != nil {
					t.Fatal(err)
				}
				if err := g.Backward(net, &to, dOther, batch.NewGradients(net, b)); err != nil {
					t.Fatal(err)
				}
				g.WarpSearch, g.WarpNeuron, g.WarpRows = p.warp, p.warp, nil
				if p.name == "warp" {
					g.WarpRows = p.warp
				}
				if err := g.Forward(net, x, &tg); err != nil {
					t.Fatal(err)
				}
				for l := range tc.Times {
					wt = max(wt, worst(t, fmt.Sprintf("%s: times[%d]", p.name, l), tg.Times[l].Float64s(), tc.Times[l].Float64s()))
				}
				if wt > 1e-10 {
					t.Fatalf("%s: spike times differ by %.3g > 1e-10", p.name, wt)
				}
				gg := batch.NewGradients(net, b)
				if err := g.Backward(net, &tc, dOut, gg); err != nil {
					t.Fatal(err)
				}
				wg = max(wg, testnet.CompareGradients(t, gg, gc, func(what string, got, want []float64) float64 {
					return worst(t, p.name+": "+what, got, want)
				}))
				if wg > 1e-8 {
					t.Fatalf("%s: gradients differ by %.3g > 1e-8", p.name, wg)
				}
			}
			t.Logf("PARITY %v %v B=%d %v times %.2g gradients %.2g", regime, kind, b, sizes, wt, wg)
		})
	}
}

func trainerFor(t testing.TB, name string, eng batch.Engine, epochs int) *trainer.Trainer {
	f, err := configs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := trainer.Parse(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Training.Epochs = epochs
	data, err := trainer.LoadData(&cfg, ".")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trainer.NewTrainer(cfg, data, eng)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Twenty epochs of Yin-Yang H30_WA from the same seed on the GPU and on
// the CPU reach the same accuracy at every epoch, to within 0.2 points (the
// issue's bound), and the same weights, bit for bit (unless this Go build
// fuses multiply-adds).
func TestTrainingMatchesCPU(t *testing.T) {
	g := gpu(t)
	const epochs = 20
	tg := trainerFor(t, "yin_yang_H30_WA", g, epochs)
	tc := trainerFor(t, "yin_yang_H30_WA", batch.NewCPU(0), epochs)
	worst := 0.0
	for e := 1; e <= epochs; e++ {
		mg, err := tg.RunEpoch(nil)
		if err != nil {
			t.Fatal(err)
		}
		mc, err := tc.RunEpoch(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("EPOCH %d train %.4f/%.4f validation %.4f/%.4f", e, mg.TrainAcc, mc.TrainAcc, mg.ValAcc, mc.ValAcc)
		worst = max(worst, math.Abs(mg.ValAcc-mc.ValAcc), math.Abs(mg.TrainAcc-mc.TrainAcc))
	}
	differ := 0
	for l := range tc.Model.W {
		for i, v := range tc.Model.W[l] {
			if math.Float64bits(v) != math.Float64bits(tg.Model.W[l][i]) {
				differ++
			}
		}
	}
	t.Logf("TRAINED largest accuracy difference %.4f; %d weights differ in any bit; %d batches recorded, %d replayed",
		worst, differ, g.Recordings, g.Replays)
	if g.RecordErr != nil || g.Replays == 0 {
		t.Errorf("the batches were not replayed as CUDA graphs (recording error: %v)", g.RecordErr)
	}
	if worst > 0.002+1e-12 {
		t.Fatalf("GPU and CPU accuracies differ by up to %.4f (> 0.002)", worst)
	}
	if differ > 0 && !testnet.GoFuses() {
		t.Fatalf("%d weights differ between the GPU and the CPU after %d epochs: the engines should agree bit for bit", differ, epochs)
	}
}

// timeEpochs times b.N training epochs of config name on g and reports
// the samples/s.
func timeEpochs(b *testing.B, g *GPU, name string) {
	t := trainerFor(b, name, g, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := t.RunEpoch(nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*t.Data.Train.N)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkTrainEpoch: whole training epochs on the GPU engine (samples/s).
func BenchmarkTrainEpoch(b *testing.B) {
	g := gpu(b)
	defer restoreWarps(g)()
	// A "/thread" case trains with one thread per (sample, neuron) pair,
	// a "/rows" case with WarpSmallBatches for WarpRows too, the others
	// with NewGPU's default (WarpSmallBatches for WarpSearch and
	// WarpNeuron).
	for _, run := range []string{"yin_yang_H30_WA", "16x16_mnist", "16x16_mnist/thread", "16x16_mnist/rows",
		"mnist_784", "mnist_784/thread", "mnist_784/rows"} {
		b.Run(run, func(b *testing.B) {
			name, variant, _ := strings.Cut(run, "/")
			g.WarpSearch, g.WarpNeuron, g.WarpRows = WarpSmallBatches, WarpSmallBatches, nil
			switch variant {
			case "thread":
				g.WarpSearch, g.WarpNeuron = nil, nil
			case "rows":
				g.WarpRows = WarpSmallBatches
			}
			if name != "yin_yang_H30_WA" && os.Getenv("DELGRAD_MNIST") == "" {
				if _, err := trainer.LoadSplit("mnist16", "", "test"); err != nil {
					b.Skipf("no MNIST: %v", err)
				}
			}
			timeEpochs(b, g, name)
		})
	}
}

// BenchmarkWarpLimit: training epochs of the MNIST configs on the GPU
// engine with a warp per (sample, neuron) pair in both per-pair kernels
// wherever a layer has at least 32 inputs per neuron and at most limit
// pairs (limit 0: one thread everywhere), for the policy's pair limit.
func BenchmarkWarpLimit(b *testing.B) {
	g := gpu(b)
	defer restoreWarps(g)()
	if os.Getenv("DELGRAD_MNIST") == "" {
		if _, err := trainer.LoadSplit("mnist16", "", "test"); err != nil {
			b.Skipf("no MNIST: %v", err)
		}
	}
	for _, name := range []string{"16x16_mnist", "mnist_784"} {
		for _, limit := range []int64{0, 8192, 16384, 32768, 65536} {
			b.Run(fmt.Sprintf("%s/limit%d", name, limit), func(b *testing.B) {
				policy := func(pairs, rows int64) bool { return rows >= 32 && pairs <= limit }
				g.WarpSearch, g.WarpNeuron = policy, policy
				timeEpochs(b, g, name)
			})
		}
	}
}

// fwdbwdCase is one forward+backward measurement: a random network of the
// issue's targets and a large batch.
type fwdbwdCase struct {
	name   string
	regime batch.Regime
	kind   batch.DelayKind
	sizes  []int
	batch  int
}

var fwdbwdCases = []fwdbwdCase{
	{"yinyang_4-30-3_axonal", batch.DoubleTau, batch.Axonal, []int{4, 30, 3}, 65536},
	{"mnist16_256-128-10", batch.EqualTau, batch.NoDelay, []int{256, 128, 10}, 8192},
	{"mnist_784-350-10", batch.EqualTau, batch.NoDelay, []int{784, 350, 10}, 4096},
}

// inputs draws the case's network, input times and output errors.
func (c fwdbwdCase) inputs(rng *rand.Rand) (*batch.Network, *tensor.Dense, *tensor.Dense) {
	net := randNet(rng, c.regime, c.kind, 0, 1, c.sizes...)
	x := batch.NewTimes(c.batch, c.sizes[0])
	for i := range x.Float64s() {
		x.Float64s()[i] = 0.15 + 1.85*rng.Float64()
	}
	K := c.sizes[len(c.sizes)-1]
	dOut := tensor.New(tensor.WithShape(c.batch, K), tensor.WithBacking(make([]float64, c.batch*K)))
	for i := range dOut.Float64s() {
		dOut.Float64s()[i] = 0.01 * rng.NormFloat64()
	}
	return net, x, dOut
}

// timeFwdBwd times b.N forward and backward passes of case c on g and
// reports and returns the samples/s, with the case's network.
func timeFwdBwd(b *testing.B, g *GPU, c fwdbwdCase) (*batch.Network, float64) {
	net, x, dOut := c.inputs(rand.New(rand.NewPCG(1, 1)))
	var tr batch.Trace
	gr := batch.NewGradients(net, c.batch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := g.Forward(net, x, &tr); err != nil {
			b.Fatal(err)
		}
		if err := g.Backward(net, &tr, dOut, gr); err != nil {
			b.Fatal(err)
		}
	}
	sps := float64(b.N*c.batch) / b.Elapsed().Seconds()
	b.ReportMetric(sps, "samples/s")
	return net, sps
}

// BenchmarkForwardBackward: one forward and backward pass of a large batch
// (samples/s), for the networks of the targets.
func BenchmarkForwardBackward(b *testing.B) {
	g := gpu(b)
	for _, c := range fwdbwdCases {
		b.Run(c.name, func(b *testing.B) {
			net, sps := timeFwdBwd(b, g, c)
			flops, bytes := costModel(net)
			b.ReportMetric(flops*sps/1e9, "model-GFLOP/s")
			b.ReportMetric(bytes*sps/1e9, "model-GB/s")
		})
	}
}

// BenchmarkWarps compares one thread against one warp per (sample,
// neuron) pair in the per-pair kernels, forced for every layer: "thread"
// (both kernels one thread per pair), "search" (a warp in the forward
// pass's spike search only), "both" (and in the backward neuron phase)
// and "rows" (and a warp per sample in the backward pass's first phase,
// Engine.WarpRows), in forward+backward passes of the MNIST networks at the small
// batches where they train and where the reference was timed, and at
// larger ones: one run tells where WarpSmallBatches should switch.
func BenchmarkWarps(b *testing.B) {
	g := gpu(b)
	defer restoreWarps(g)()
	yes := func(int64, int64) bool { return true }
	for _, c := range fwdbwdCases[1:] {
		for _, batchSize := range []int{50, 200, 1024, 4096} {
			for _, v := range []struct {
				name                 string
				search, neuron, rows func(int64, int64) bool
			}{{"thread", nil, nil, nil}, {"search", yes, nil, nil}, {"both", yes, yes, nil}, {"rows", yes, yes, yes}} {
				c := c
				c.batch = batchSize
				b.Run(fmt.Sprintf("%s/B%d/%s", c.name, batchSize, v.name), func(b *testing.B) {
					g.WarpSearch, g.WarpNeuron, g.WarpRows = v.search, v.neuron, v.rows
					timeFwdBwd(b, g, c)
				})
			}
		}
	}
}

// costModel estimates the fp64 operations and the device memory traffic of
// one sample's forward and backward pass: per synapse about 8 flops in the
// forward scan and 30 in the three backward phases; per synapse the weight
// phase reads the row's time and exponentials (24 bytes) and the neuron's
// state (56 bytes), and the other phases about 40 bytes. An estimate for
// the report's "share of peak" columns, not a measurement.
func costModel(net *batch.Network) (flops, bytes float64) {
	for _, l := range net.Layers {
		syn := float64(l.Rows() * l.Out)
		flops += 38 * syn
		bytes += 120 * syn
	}
	return flops, bytes
}

// TestProfileKernels (DELGRAD_PROFILE=1) prints each kernel's device time
// for one forward+backward pass of the benchmark networks and for one
// training epoch of Yin-Yang and of MNIST, beside the region's wall time
// untimed: the gap is launch and copy overhead.
func TestProfileKernels(t *testing.T) {
	if os.Getenv("DELGRAD_PROFILE") == "" {
		t.Skip("set DELGRAD_PROFILE=1 to profile the kernels")
	}
	g := gpu(t)
	profile := func(what string, run func() error) {
		if err := run(); err != nil { // warm-up: buffers, module load
			t.Fatal(err)
		}
		start := time.Now()
		if err := run(); err != nil {
			t.Fatal(err)
		}
		plain := time.Since(start)
		if err := g.StartTiming(); err != nil {
			t.Fatal(err)
		}
		err := run()
		kt, wall, errStop := g.StopTiming() // also after a failed run
		if err := errors.Join(err, errStop); err != nil {
			t.Fatal(err)
		}
		names := make([]string, 0, len(kt))
		var sum time.Duration
		for n, k := range kt {
			names = append(names, n)
			sum += k.Device
		}
		if len(names) == 0 || sum <= 0 {
			t.Fatalf("%s: no kernel time recorded", what)
		}
		slices.SortFunc(names, func(a, b string) int { return cmp.Compare(kt[b].Device, kt[a].Device) })
		t.Logf("PROFILE %s: wall %v untimed, %v timed; kernels %v (%.0f%% of the untimed wall)", what, plain, wall, sum, 100*sum.Seconds()/plain.Seconds())
		for _, n := range names {
			k := kt[n]
			t.Logf("PROFILE   %-16s %6d calls %10.1f us total %8.2f us/call %5.1f%%", n, k.Calls, float64(k.Device.Nanoseconds())/1e3,
				float64(k.Device.Nanoseconds())/1e3/float64(k.Calls), 100*k.Device.Seconds()/sum.Seconds())
		}
	}
	// The benchmark networks at their large batches, then 16x16 MNIST at
	// the small batches it trains and was compared at (the Engine API's
	// per-call copies and launches weigh most there).
	cases := slices.Clone(fwdbwdCases)
	for _, bs := range []int{50, 200} {
		c := fwdbwdCases[1]
		c.batch = bs
		cases = append(cases, c)
	}
	for _, c := range cases {
		rng := rand.New(rand.NewPCG(1, 1))
		net, x, dOut := c.inputs(rng)
		var tr batch.Trace
		gr := batch.NewGradients(net, c.batch)
		profile(fmt.Sprintf("fwd+bwd %s B=%d", c.name, c.batch), func() error {
			if err := g.Forward(net, x, &tr); err != nil {
				return err
			}
			return g.Backward(net, &tr, dOut, gr)
		})
	}
	for _, name := range []string{"yin_yang_H30_WA", "16x16_mnist", "mnist_784"} {
		if name != "yin_yang_H30_WA" && os.Getenv("DELGRAD_MNIST") == "" {
			if _, err := trainer.LoadSplit("mnist", "", "test"); err != nil {
				t.Logf("no MNIST: %v", err)
				continue
			}
		}
		tr := trainerFor(t, name, g, 20)
		profile("train epoch "+name, func() error { _, err := tr.RunEpoch(nil); return err })
	}
}

// BenchmarkLaunch measures the cost of one kernel launch: "enqueue" is the
// host's time per launch of a one-thread kernel with no wait (enqueue-us per
// launch), "pipeline" adds the wait for the last one (the device's rate
// for back-to-back tiny kernels), "roundtrip" is a launch followed by an
// 8-byte copy back (one synchronisation).
func BenchmarkLaunch(b *testing.B) {
	g := gpu(b)
	one := make([]float64, 1)
	for _, mode := range []string{"enqueue", "pipeline", "roundtrip"} {
		b.Run(mode, func(b *testing.B) {
			// The context is bound to the goroutine's thread.
			leave, err := g.enter()
			if err != nil {
				b.Fatal(err)
			}
			defer leave()
			p, err := g.buf("bench.launch", 8)
			if err != nil {
				b.Fatal(err)
			}
			var enq time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := g.launch("dg_clean", 1, int64(1), p, p); err != nil {
					b.Fatal(err)
				}
				if mode == "roundtrip" {
					if err := g.download(one, p, "bench"); err != nil {
						b.Fatal(err)
					}
				}
			}
			enq = b.Elapsed()
			if mode == "enqueue" {
				b.StopTimer()
			}
			if err := g.download(one, p, "bench"); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(enq.Seconds()*1e6/float64(b.N), "enqueue-us")
		})
	}
}

// countingDevice counts a Device's launches and copies.
type countingDevice struct {
	Device
	launches, copies int
}

func (c *countingDevice) Launch(name string, n int64, args ...any) error {
	c.launches++
	return c.Device.Launch(name, n, args...)
}

func (c *countingDevice) HtoD(p Ptr, src unsafe.Pointer, n int64) error {
	c.copies++
	return c.Device.HtoD(p, src, n)
}

func (c *countingDevice) DtoH(dst unsafe.Pointer, p Ptr, n int64) error {
	c.copies++
	return c.Device.DtoH(dst, p, n)
}

// BenchmarkTrainStepSmall times the device training step at the configs'
// batch sizes (Yin-Yang H30_WA at 150, 16x16 MNIST at 50), with its full
// batches replayed as CUDA graphs ("graphs") and launched kernel by kernel
// ("launches", which also counts launches and copies per step): with
// BenchmarkLaunch it says how much of a small step is launch overhead.
func BenchmarkTrainStepSmall(b *testing.B) {
	g := gpu(b)
	for _, name := range []string{"yin_yang_H30_WA", "16x16_mnist"} {
		for _, mode := range []string{"graphs", "launches"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				if name != "yin_yang_H30_WA" && os.Getenv("DELGRAD_MNIST") == "" {
					if _, err := trainer.LoadSplit("mnist16", "", "test"); err != nil {
						b.Skipf("no MNIST: %v", err)
					}
				}
				g.NoGraphs = mode == "launches"
				defer func() { g.NoGraphs = false }()
				t := trainerFor(b, name, g, 1)
				var cd *countingDevice
				if mode == "launches" {
					cd = &countingDevice{Device: g.Engine.dev}
					g.Engine.dev = cd
					defer func() { g.Engine.dev = cd.Device }()
				}
				if err := t.TrainSteps(64); err != nil {
					b.Fatal(err)
				}
				if cd != nil {
					cd.launches, cd.copies = 0, 0
				}
				b.ResetTimer()
				if err := t.TrainSteps(b.N); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N), "us/step")
				if cd != nil {
					b.ReportMetric(float64(cd.launches)/float64(b.N), "launches/step")
					b.ReportMetric(float64(cd.copies)/float64(b.N), "copies/step")
				}
			})
		}
	}
}
