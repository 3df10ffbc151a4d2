package dataset

// PIL's 8-bit resampler stores filter weights as fixed-point integers with
// this many fractional bits (32 - 8 - 2).
const pilPrecisionBits = 22

// resizer16 centre-crops a 28x28 8-bit image to 24x24 and shrinks it to
// 16x16 the way torchvision's CenterCrop(24) + Resize(16) do on a PIL "L"
// image: PIL's antialiased bilinear (triangle) filter, stretched by the scale
// factor, applied as a horizontal then a vertical pass, each rounded to 8
// bits with fixed-point weights.
type resizer16 struct {
	// lo[o] is the first input index used by output index o and weights[o]
	// the fixed-point weights of the inputs lo[o], lo[o]+1, ...
	lo      [mnistSmall]int
	weights [mnistSmall][]int32
	tmp     [mnistCrop * mnistSmall]uint8 // horizontal pass output, 24 rows x 16
}

// newResizer16 precomputes the (identical) horizontal and vertical filters.
func newResizer16() *resizer16 {
	r := &resizer16{}
	scale := float64(mnistCrop) / float64(mnistSmall) // 1.5
	filterScale := max(scale, 1.0)
	support := 1.0 * filterScale // bilinear support is 1
	for o := range mnistSmall {
		center := (float64(o) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)         // C (int) truncates toward zero
		hi := min(int(center+support+0.5), mnistCrop) // exclusive
		w := make([]float64, 0, hi-lo)
		total := 0.0
		for x := lo; x < hi; x++ {
			arg := (float64(x) - center + 0.5) / filterScale
			if arg < 0 {
				arg = -arg
			}
			v := 0.0
			if arg < 1 {
				v = 1 - arg
			}
			w = append(w, v)
			total += v
		}
		fixed := make([]int32, len(w))
		for k, v := range w {
			if total != 0 {
				v /= total
			}
			if v < 0 {
				fixed[k] = int32(-0.5 + v*(1<<pilPrecisionBits))
			} else {
				fixed[k] = int32(0.5 + v*(1<<pilPrecisionBits))
			}
		}
		r.lo[o], r.weights[o] = lo, fixed
	}
	return r
}

// clip8 converts a fixed-point accumulator to a byte, saturating.
func clip8(acc int64) uint8 {
	v := acc >> pilPrecisionBits
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// resize writes the 16x16 result for the 28x28 image img into out.
func (r *resizer16) resize(img []uint8, out []uint8) {
	const off = (mnistSide - mnistCrop) / 2 // torchvision: round((28-24)/2) = 2
	const half = int64(1) << (pilPrecisionBits - 1)
	// Horizontal pass over the 24 cropped rows.
	for y := range mnistCrop {
		src := img[(y+off)*mnistSide+off : (y+off)*mnistSide+off+mnistCrop]
		for o := range mnistSmall {
			acc := half
			for k, w := range r.weights[o] {
				acc += int64(src[r.lo[o]+k]) * int64(w)
			}
			r.tmp[y*mnistSmall+o] = clip8(acc)
		}
	}
	// Vertical pass.
	for o := range mnistSmall {
		for x := range mnistSmall {
			acc := half
			for k, w := range r.weights[o] {
				acc += int64(r.tmp[(r.lo[o]+k)*mnistSmall+x]) * int64(w)
			}
			out[o*mnistSmall+x] = clip8(acc)
		}
	}
}
