package batch

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzForward builds a small network and inputs from the fuzzer's bytes
// (any float64 bit pattern for weights, delays and times) and checks that
// forward and backward never panic or produce NaN, and that every output
// is +Inf or not earlier than its neuron's earliest effective input.
func FuzzForward(f *testing.F) {
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0, 0, 240, 63, 0, 0, 0, 0, 0, 0, 0, 64})
	f.Add([]byte{2, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 224, 63, 154, 153, 153, 153, 153, 153, 201, 63})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		regime := Regime(1 + data[0]%2)
		kind := DelayKind(data[1] % 4)
		nIn, nOut, bias := 1+int(data[2]%4), 1+int(data[2]/4%3), int(data[2]/16%2)
		pos := 3
		next := func() float64 {
			if pos+8 > len(data) {
				pos++
				return float64(pos%7) * 0.37
			}
			v := math.Float64frombits(binary.LittleEndian.Uint64(data[pos:]))
			pos += 8
			return v
		}
		finite := func(v float64) float64 {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0.5
			}
			return v
		}
		nrn := Neuron{TauSyn: 1, TauMem: float64(regime), Threshold: 1}
		l := NewLayer(nIn, nOut, bias, nrn, kind)
		for i := range l.W() {
			l.W()[i] = finite(next())
		}
		for i := range l.D() {
			l.D()[i] = finite(next())
		}
		for i := range l.BiasTimes {
			l.BiasTimes[i] = finite(next())
		}
		net := &Network{Inputs: nIn, Layers: []Layer{l}}
		const b = 2
		in := NewTimes(b, nIn)
		for i := range in.Float64s() {
			v := next()
			if math.IsNaN(v) || math.IsInf(v, -1) {
				v = math.Inf(1)
			}
			in.Float64s()[i] = v
		}
		e := NewCPU(1)
		var tr Trace
		if err := e.Forward(net, in, &tr); err != nil {
			t.Fatalf("forward: %v", err)
		}
		for s := 0; s < b; s++ {
			for k := 0; k < nOut; k++ {
				ins, _ := effInputs(net, &tr, 0, s, k)
				out := tr.Output().Float64s()[s*nOut+k]
				if math.IsNaN(out) || math.IsInf(out, -1) {
					t.Fatalf("output %d of sample %d is %g", k, s, out)
				}
				if math.IsInf(out, 1) {
					continue
				}
				earliest := math.Inf(1)
				for _, ti := range ins {
					earliest = min(earliest, ti)
				}
				if kind == Dendritic {
					// Compare in output time: rounding of out - d may lose the digits.
					earliest += l.D()[k]
				}
				if out < earliest {
					t.Fatalf("neuron %d of sample %d spikes at %g before its earliest input %g", k, s, out, earliest)
				}
			}
		}
		dOut := NewTimes(b, nOut)
		for i := range dOut.Float64s() {
			dOut.Float64s()[i] = 1
		}
		g := NewGradients(net, b)
		if err := e.Backward(net, &tr, dOut, g); err != nil {
			t.Fatalf("backward: %v", err)
		}
		check := func(name string, v []float64) {
			for i, x := range v {
				if math.IsNaN(x) {
					t.Fatalf("%s[%d] is NaN", name, i)
				}
			}
		}
		check("weight gradient", g.Weights[0].Float64s())
		check("delay gradient", g.D(0))
		check("input gradient", g.Input.Float64s())
	})
}
