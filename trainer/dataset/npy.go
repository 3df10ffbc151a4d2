package dataset

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/delgrad-go/delgrad/internal/npyfile"
)

// npyArray is the content of a .npy file: its shape and its values, either
// as floats (float dtypes) or as integers (integer dtypes), in C order.
type npyArray struct {
	shape  []int
	floats []float64
	ints   []int64
	isInt  bool
}

// LoadNpy loads user data: samplesPath is a 2-D (N, F) float32 or float64
// .npy array of input spike times (+Inf = no spike) and labelsPath a 1-D (N)
// .npy array of integer labels (integer dtype, or a float dtype holding
// integral values). Classes is the largest label plus one; Name is the
// samples file name without ".npy". The result is validated; errors name the
// file and the problem.
func LoadNpy(samplesPath, labelsPath string) (*Set, error) {
	sa, err := readNpy(samplesPath)
	if err != nil {
		return nil, err
	}
	if sa.isInt {
		return nil, fmt.Errorf("dataset: %s: spike times must be float32 or float64, not an integer dtype", samplesPath)
	}
	if len(sa.shape) != 2 {
		return nil, fmt.Errorf("dataset: %s: samples must be 2-D (N, F), got shape %v", samplesPath, sa.shape)
	}
	la, err := readNpy(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(la.shape) != 1 {
		return nil, fmt.Errorf("dataset: %s: labels must be 1-D (N), got shape %v", labelsPath, la.shape)
	}
	n, f := sa.shape[0], sa.shape[1]
	if la.shape[0] != n {
		return nil, fmt.Errorf("dataset: %s has %d labels but %s has %d samples (N mismatch)", labelsPath, la.shape[0], samplesPath, n)
	}
	if n == 0 {
		return nil, fmt.Errorf("dataset: %s: no samples (N = 0)", samplesPath)
	}
	for k, t := range sa.floats {
		if math.IsNaN(t) {
			return nil, fmt.Errorf("dataset: %s: NaN at sample %d feature %d; use +Inf for \"no spike\"", samplesPath, k/f, k%f)
		}
	}
	labels := make([]int, n)
	maxLabel := 0
	for i := range n {
		var l int64
		if la.isInt {
			l = la.ints[i]
		} else {
			v := la.floats[i]
			if math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) {
				return nil, fmt.Errorf("dataset: %s: non-integral label %v at sample %d", labelsPath, v, i)
			}
			if math.Abs(v) > math.MaxInt32 {
				return nil, fmt.Errorf("dataset: %s: label %v at sample %d is too large", labelsPath, v, i)
			}
			l = int64(v)
		}
		if l < 0 {
			return nil, fmt.Errorf("dataset: %s: negative label %d at sample %d", labelsPath, l, i)
		}
		if l > math.MaxInt32-1 {
			return nil, fmt.Errorf("dataset: %s: label %d at sample %d is too large", labelsPath, l, i)
		}
		labels[i] = int(l)
		maxLabel = max(maxLabel, int(l))
	}
	s := &Set{
		Name:    strings.TrimSuffix(filepath.Base(samplesPath), ".npy"),
		Times:   sa.floats,
		Labels:  labels,
		N:       n,
		F:       f,
		Classes: maxLabel + 1,
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", samplesPath, err)
	}
	return s, nil
}

// readNpy reads a 1-D or 2-D numeric .npy file into memory (C order).
func readNpy(path string) (*npyArray, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: reading .npy: %w", err)
	}
	a, err := npyfile.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	if len(a.Shape) == 0 || len(a.Shape) > 2 {
		return nil, fmt.Errorf("dataset: %s: shape %v not supported (want 1-D or 2-D)", path, a.Shape)
	}
	arr := &npyArray{shape: a.Shape, isInt: a.Kind != 'f'}
	if arr.isInt {
		arr.ints, err = a.Int64s()
	} else {
		arr.floats, err = a.Float64s()
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: reading data: %w", path, err)
	}
	return arr, nil
}
