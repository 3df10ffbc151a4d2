package trainer

import (
	"math"

	"github.com/delgrad-go/delgrad/internal/xmath"
)

// missingLoss is the loss the reference assigns to a sample whose loss is
// not finite (in particular one whose label neuron did not spike).
const missingLoss = 100

// Loss is a per-sample loss on the output spike times.
type Loss interface {
	// Sample returns the loss of one sample's output times t with label y
	// and writes dLoss/dt into grad (len(t)). A non-finite loss is reported
	// as missingLoss with a zero gradient, as the reference does.
	Sample(t []float64, y int, grad []float64) float64
}

// ShiftMSE is the shift-invariant MSE: 1/2 sum_k (t_k - t_y - D (1 - [k=y]))^2,
// which asks the label neuron to fire DeltaT before every other one.
type ShiftMSE struct {
	DeltaT float64 // D, in units of tau_s
	TauSyn float64
}

// Sample implements Loss.
func (l ShiftMSE) Sample(t []float64, y int, grad []float64) float64 {
	d := l.DeltaT * l.TauSyn
	ty := t[y]
	loss, gy := 0.0, 0.0
	for k, tk := range t {
		if k == y {
			grad[k] = 0
			continue
		}
		r := tk - ty - d
		loss += 0.5 * r * r
		grad[k] = r
		gy -= r
	}
	grad[y] = gy
	return finiteOr(loss, ty, grad)
}

// TTFS is the time-to-first-spike cross-entropy of DelGrad with its early
// spike regulariser: log sum_k exp(-t_k/(xi tau)) + t_y/(xi tau) +
// alpha exp(t_y/(beta tau)).
type TTFS struct {
	Xi, Alpha, Beta, TauSyn float64
}

// Sample implements Loss.
func (l TTFS) Sample(t []float64, y int, grad []float64) float64 {
	s := l.Xi * l.TauSyn
	ty := t[y]
	// log-sum-exp of -t/s, shifted by its largest term (the earliest spike).
	lo := math.Inf(1)
	for _, tk := range t {
		lo = math.Min(lo, tk)
	}
	sum := 0.0
	for k, tk := range t {
		e := xmath.Exp(-(tk - lo) / s)
		grad[k] = e
		sum += e
	}
	loss := -lo/s + xmath.Log(sum) + ty/s
	for k := range grad {
		grad[k] = -grad[k] / sum / s
	}
	reg := l.Alpha * xmath.Exp(ty/(l.Beta*l.TauSyn))
	loss += reg
	grad[y] += 1/s + reg/(l.Beta*l.TauSyn)
	return finiteOr(loss, ty, grad)
}

// finiteOr applies the reference's rule for missing spikes: a sample whose
// loss or label time is not finite costs missingLoss and gives no gradient.
func finiteOr(loss, ty float64, grad []float64) float64 {
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsInf(ty, 0) || math.IsNaN(ty) {
		for k := range grad {
			grad[k] = 0
		}
		return missingLoss
	}
	return loss
}

// newLoss returns the configured loss; tauSyn is the output layer's.
func newLoss(c LossConfig, tauSyn float64) Loss {
	if c.Type == "ttfs" {
		return TTFS{Xi: c.Xi, Alpha: c.Alpha, Beta: c.Beta, TauSyn: tauSyn}
	}
	return ShiftMSE{DeltaT: c.DeltaT, TauSyn: tauSyn}
}
