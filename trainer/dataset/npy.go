package dataset

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio"
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

// readNpy reads a 1-D or 2-D numeric .npy file into memory.
func readNpy(path string) (arr *npyArray, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: reading .npy: %w", err)
	}
	// npyio can panic on malformed headers: report those as errors.
	defer func() {
		if p := recover(); p != nil {
			arr, err = nil, fmt.Errorf("dataset: %s: malformed .npy file (%v)", path, p)
		}
	}()
	br := bytes.NewReader(raw)
	r, err := npyio.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: not a valid .npy file: %w", path, err)
	}
	hdr := r.Header.Descr
	shape := hdr.Shape
	if len(shape) == 0 || len(shape) > 2 {
		return nil, fmt.Errorf("dataset: %s: shape %v not supported (want 1-D or 2-D)", path, shape)
	}
	kind, esize, err := parseDtype(hdr.Type)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	nelems := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && nelems > math.MaxInt32/d) {
			return nil, fmt.Errorf("dataset: %s: invalid shape %v", path, shape)
		}
		nelems *= d
	}
	if payload := br.Len(); nelems*esize > payload {
		return nil, fmt.Errorf("dataset: %s: truncated: shape %v needs %d data bytes, file has %d", path, shape, nelems*esize, payload)
	}
	arr = &npyArray{shape: append([]int(nil), shape...), isInt: kind != 'f'}
	if err := readNpyData(r, kind, esize, nelems, arr); err != nil {
		return nil, fmt.Errorf("dataset: %s: reading data: %w", path, err)
	}
	if hdr.Fortran && len(shape) == 2 {
		arr.toCOrder()
	}
	return arr, nil
}

// parseDtype parses a simple NumPy dtype string such as '<f8' or '|u1'
// into its kind ('f', 'i' or 'u') and element size in bytes.
func parseDtype(descr string) (kind byte, size int, err error) {
	d := strings.Trim(strings.TrimSpace(descr), `'"`)
	if d != "" && strings.ContainsRune("<>|=", rune(d[0])) {
		d = d[1:]
	}
	if len(d) >= 2 {
		kind = d[0]
		size, err = strconv.Atoi(d[1:])
	}
	if len(d) < 2 || err != nil {
		return 0, 0, fmt.Errorf("unsupported dtype %s (want float32/float64 or an integer type)", descr)
	}
	ok := false
	switch kind {
	case 'f':
		ok = size == 4 || size == 8
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	}
	if !ok {
		return 0, 0, fmt.Errorf("unsupported dtype %s (want float32/float64 or an integer type)", descr)
	}
	return kind, size, nil
}

// readNpyData reads nelems values of the given kind and size into arr.
func readNpyData(r *npyio.Reader, kind byte, esize, nelems int, arr *npyArray) error {
	if nelems == 0 {
		return nil
	}
	var err error
	switch {
	case kind == 'f' && esize == 8:
		arr.floats = make([]float64, nelems)
		err = r.Read(&arr.floats)
	case kind == 'f' && esize == 4:
		v := make([]float32, nelems)
		if err = r.Read(&v); err == nil {
			arr.floats = make([]float64, nelems)
			for i, x := range v {
				arr.floats[i] = float64(x)
			}
		}
	default:
		arr.ints, err = readNpyInts(r, kind, esize, nelems)
	}
	return err
}

// readNpyInts reads integer data of any supported width as int64.
func readNpyInts(r *npyio.Reader, kind byte, esize, nelems int) ([]int64, error) {
	switch {
	case kind == 'i' && esize == 1:
		return readIntsAs[int8](r, nelems)
	case kind == 'i' && esize == 2:
		return readIntsAs[int16](r, nelems)
	case kind == 'i' && esize == 4:
		return readIntsAs[int32](r, nelems)
	case kind == 'i' && esize == 8:
		out := make([]int64, nelems)
		if err := r.Read(&out); err != nil {
			return nil, err
		}
		return out, nil
	case kind == 'u' && esize == 1:
		return readIntsAs[uint8](r, nelems)
	case kind == 'u' && esize == 2:
		return readIntsAs[uint16](r, nelems)
	case kind == 'u' && esize == 4:
		return readIntsAs[uint32](r, nelems)
	case kind == 'u' && esize == 8:
		v := make([]uint64, nelems)
		if err := r.Read(&v); err != nil {
			return nil, err
		}
		out := make([]int64, nelems)
		for i, x := range v {
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("value %d at index %d does not fit in int64", x, i)
			}
			out[i] = int64(x)
		}
		return out, nil
	}
	return make([]int64, nelems), nil
}

// readIntsAs reads nelems integers of type T and widens them to int64.
func readIntsAs[T int8 | int16 | int32 | uint8 | uint16 | uint32](r *npyio.Reader, nelems int) ([]int64, error) {
	v := make([]T, nelems)
	if err := r.Read(&v); err != nil {
		return nil, err
	}
	out := make([]int64, nelems)
	for i, x := range v {
		out[i] = int64(x)
	}
	return out, nil
}

// toCOrder converts 2-D column-major (Fortran) data to row-major.
func (a *npyArray) toCOrder() {
	rows, cols := a.shape[0], a.shape[1]
	if a.floats != nil {
		t := make([]float64, len(a.floats))
		for j := range cols {
			for i := range rows {
				t[i*cols+j] = a.floats[j*rows+i]
			}
		}
		a.floats = t
	}
	if a.ints != nil {
		t := make([]int64, len(a.ints))
		for j := range cols {
			for i := range rows {
				t[i*cols+j] = a.ints[j*rows+i]
			}
		}
		a.ints = t
	}
}
