//go:build cgo

package host

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/kernels"
)

// The warp version of the backward pass's first phase (dg_bwd_rows_w, the
// lanes' ranges merged as shuffles merge them) gives the bits of the
// one-thread kernels (dg_bwd_range, then dg_bwd_rows), including the sign
// of a zero reference time when -0 and +0 tie for the minimum or the
// maximum in rows of different lanes (dg_min and dg_max keep the later
// row's), rows without a spike, -Inf rows, and a sample with none.
func TestRowsWarpMatchesThread(t *testing.T) {
	neg0 := math.Copysign(0, -1)
	const in = 70
	nrn := batch.Neuron{TauSyn: 1, TauMem: 2, Threshold: 1}
	for _, nBias := range []int{1, 0} {
		l := batch.NewLayer(in, 3, nBias, nrn, batch.NoDelay)
		for i := range l.BiasTimes {
			l.BiasTimes[i] = 0.7
		}
		rng := rand.New(rand.NewPCG(5, uint64(nBias)))
		var x [][]float64
		sample := func(set map[int]float64, fill func(i int) float64) {
			v := make([]float64, in)
			for i := range v {
				v[i] = fill(i)
			}
			for i, t := range set {
				v[i] = t
			}
			x = append(x, v)
		}
		pos := func(int) float64 { return 0.1 + 2*rng.Float64() }
		neg := func(int) float64 { return -0.1 - 2*rng.Float64() }
		inf := func(int) float64 { return math.Inf(1) }
		sample(nil, pos)
		sample(map[int]float64{3: neg0, 40: 0}, pos)                    // minimum: -0 (lane 3), then +0 (lane 8)
		sample(map[int]float64{3: 0, 40: neg0}, pos)                    // minimum: +0, then -0
		sample(map[int]float64{5: neg0, 36: 0, 37: neg0}, pos)          // two in one lane
		sample(map[int]float64{2: neg0, 50: 0, 7: math.Inf(1)}, neg)    // maximum tie (no bias: all negative)
		sample(map[int]float64{2: 0, 50: neg0, 9: math.Inf(1)}, neg)    // maximum tie, the other way
		sample(map[int]float64{1: 1, 33: 1, 65: 1, 2: math.NaN()}, inf) // equal times, a NaN, the rest silent
		sample(nil, inf)                                                // no spike at all
		sample(map[int]float64{4: math.Inf(-1), 60: math.Inf(-1)}, pos) // -Inf rows (a wide sample)
		B := int64(len(x))
		R := int64(l.Rows())
		flat := make([]float64, 0, int(B)*in)
		for _, v := range x {
			flat = append(flat, v...)
		}
		enc, err := kernels.EncodeLayer(&l, 1)
		if err != nil {
			t.Fatal(err)
		}
		run := func(warp bool) (ref []float64, wide []int32, u, e1, e2 []float64) {
			dev := &Device{mem: map[kernels.Ptr]allocation{}}
			var bufs []kernels.Ptr
			defer func() {
				for _, p := range bufs {
					if err := dev.Free(p); err != nil {
						t.Error(err)
					}
				}
			}()
			buf := func(n int64) kernels.Ptr {
				p, err := dev.Alloc(n)
				if err != nil {
					t.Fatal(err)
				}
				bufs = append(bufs, p)
				return p
			}
			put := func(p unsafe.Pointer, n int) kernels.Ptr {
				d := buf(int64(n))
				if err := dev.HtoD(d, p, int64(n)); err != nil {
					t.Fatal(err)
				}
				return d
			}
			lp := put(unsafe.Pointer(&enc[0]), len(enc))
			xin := put(unsafe.Pointer(&flat[0]), 8*len(flat))
			d, bias := buf(8), buf(8) // no delays; no bias times unless nBias
			if nBias > 0 {
				bias = put(unsafe.Pointer(&l.BiasTimes[0]), 8*nBias)
			}
			pr, pw, pu, p1, p2 := buf(8*B), buf(4*B), buf(8*B*R), buf(8*B*R), buf(8*B*R)
			span := []float64{0.25}
			dspan := put(unsafe.Pointer(&span[0]), 8)
			if warp {
				err = dev.Launch("dg_bwd_rows_w", 32*B, lp, B, xin, d, bias, dspan, pr, pw, pu, p1, p2)
			} else {
				err = dev.Launch("dg_bwd_range", B, lp, B, xin, d, bias, dspan, pr, pw)
				if err == nil {
					err = dev.Launch("dg_bwd_rows", B*R, lp, B, xin, d, bias, pr, pw, pu, p1, p2)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			ref, wide = make([]float64, B), make([]int32, B)
			u, e1, e2 = make([]float64, B*R), make([]float64, B*R), make([]float64, B*R)
			for _, c := range []struct {
				p   kernels.Ptr
				dst unsafe.Pointer
				n   int64
			}{{pr, unsafe.Pointer(&ref[0]), 8 * B}, {pw, unsafe.Pointer(&wide[0]), 4 * B},
				{pu, unsafe.Pointer(&u[0]), 8 * B * R}, {p1, unsafe.Pointer(&e1[0]), 8 * B * R}, {p2, unsafe.Pointer(&e2[0]), 8 * B * R}} {
				if err := dev.DtoH(c.dst, c.p, c.n); err != nil {
					t.Fatal(err)
				}
			}
			return
		}
		rt, wt, ut, e1t, e2t := run(false)
		rw, ww, uw, e1w, e2w := run(true)
		same := func(what string, got, want []float64) {
			t.Helper()
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("bias %d: %s[%d]: warp %v (bits %x), one thread %v (bits %x)", nBias, what, i, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
				}
			}
		}
		same("ref", rw, rt)
		for s := range wt {
			if ww[s] != wt[s] {
				t.Fatalf("bias %d: wide[%d]: warp %d, one thread %d", nBias, s, ww[s], wt[s])
			}
		}
		same("u", uw, ut)
		same("e1", e1w, e1t)
		same("e2", e2w, e2t)
		// The cases above must reach both signs of a zero reference.
		if nBias == 0 && (math.Signbit(rt[1]) || !math.Signbit(rt[2])) {
			t.Fatalf("the one-thread kernel's zero references: %v %v (signs %v %v): the test no longer covers the tie", rt[1], rt[2], math.Signbit(rt[1]), math.Signbit(rt[2]))
		}
	}
}
