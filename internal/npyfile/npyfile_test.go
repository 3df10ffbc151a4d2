package npyfile

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

// npyBytes writes v with npyio.
func npyBytes(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := npyio.Write(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawNpy builds a version 1.0 .npy file from a header dictionary and data
// bytes.
func rawNpy(dict string, data []byte) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	_ = binary.Write(&buf, binary.LittleEndian, uint16(len(dict)))
	buf.WriteString(dict)
	buf.Write(data)
	return buf.Bytes()
}

// le returns the little-endian bytes of v.
func le(v any) []byte {
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, v)
	return buf.Bytes()
}

func TestParseValid(t *testing.T) {
	m := mat.NewDense(2, 3, []float64{0, 1, 2, 3, 4, math.Inf(1)})
	tests := []struct {
		name   string
		raw    []byte
		shape  []int
		floats []float64
		ints   []int64
	}{
		{"npyio float64 matrix", npyBytes(t, m), []int{2, 3}, []float64{0, 1, 2, 3, 4, math.Inf(1)}, nil},
		{"npyio int64 vector", npyBytes(t, []int64{2, -1, 7}), []int{3}, nil, []int64{2, -1, 7}},
		{"npyio uint8 vector", npyBytes(t, []uint8{255, 0}), []int{2}, nil, []int64{255, 0}},
		{"npyio float32 vector", npyBytes(t, []float32{0.5, 2}), []int{2}, []float64{0.5, 2}, nil},
		{"fortran order", rawNpy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }\n",
			le([]float64{0, 3, 1, 4, 2, 5})), []int{2, 3}, []float64{0, 1, 2, 3, 4, 5}, nil},
		{"fortran order 3-D", rawNpy("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 1, 2), }\n",
			le([]int16{0, 2, 1, 3})), []int{2, 1, 2}, nil, []int64{0, 1, 2, 3}},
		{"big endian", rawNpy("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }\n",
			[]byte{0, 0, 1, 2}), []int{1}, nil, []int64{258}},
		{"keys in any order, double quotes, no trailing comma",
			rawNpy(`{"shape": (2,), "fortran_order": False, "descr": "|u1"}`+"   \n", []byte{4, 5}), []int{2}, nil, []int64{4, 5}},
		{"scalar", rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n", le(2.5)), []int{}, []float64{2.5}, nil},
		{"empty", rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }\n", nil), []int{0, 4}, []float64{}, nil},
		{"trailing bytes ignored", rawNpy("{'descr': '<i1', 'fortran_order': False, 'shape': (1,), }\n", []byte{9, 9, 9}), []int{1}, nil, []int64{9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Shape, tc.shape) {
				t.Errorf("shape %v, want %v", a.Shape, tc.shape)
			}
			if tc.floats != nil {
				v, err := a.Float64s()
				if err != nil || !slices.Equal(v, tc.floats) {
					t.Errorf("Float64s = %v, %v; want %v", v, err, tc.floats)
				}
				if _, err := a.Int64s(); err == nil {
					t.Error("Int64s of a float array: no error")
				}
			}
			if tc.ints != nil {
				v, err := a.Int64s()
				if err != nil || !slices.Equal(v, tc.ints) {
					t.Errorf("Int64s = %v, %v; want %v", v, err, tc.ints)
				}
				if _, err := a.Float64s(); err == nil {
					t.Error("Float64s of an integer array: no error")
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	w := npyBytes(t, mat.NewDense(4, 30, make([]float64, 120)))
	hdr := func(dict string) []byte { return rawNpy(dict+"\n", nil) }
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty file", nil, "not a .npy file"},
		{"text", []byte("hello, world"), `not a .npy file (magic "hello,"`},
		{"cut in the magic", w[:3], "not a .npy file"},
		{"cut in the version", w[:7], "truncated"},
		{"cut in the header length", w[:9], "truncated"},
		{"cut in the header", w[:50], "file is truncated: header length"},
		{"cut in the data", w[:len(w)-948], "file is truncated: header says 4x30 float64 (960 bytes of data), file has 12"},
		{"no data", w[:len(w)-960], "file has 0"},
		{"version 4", append([]byte("\x93NUMPY\x04\x00"), w[8:]...), "version 4.0"},
		{"version 2 huge header length", []byte("\x93NUMPY\x02\x00\xff\xff\xff\xff{}"), "header length 4294967295, but only 2 bytes follow"},
		{"not a dict", hdr("descr"), "malformed .npy header: does not start"},
		{"missing shape", hdr("{'descr': '<f8', 'fortran_order': False}"), `key "shape" missing`},
		{"unknown key", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}"), `unexpected key "x"`},
		{"duplicate key", hdr("{'descr': '<f8', 'descr': '<f8'}"), "twice"},
		{"unterminated string", hdr("{'descr"), "unterminated"},
		{"bad order", hdr("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}"), "True or False"},
		{"bad shape", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': [1]}"), "want a tuple"},
		{"shape not integer", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (a,)}"), "want an integer"},
		{"negative shape", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (-2, 2)}"), "negative dimension"},
		{"huge shape", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000)}"), "more than"},
		{"overflowing shape", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}"), "want an integer"},
		{"complex dtype", hdr("{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}"), `unsupported dtype "<c16"`},
		{"object dtype", hdr("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"), "unsupported dtype"},
		{"structured dtype", hdr("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}"), "structured"},
		{"garbage after dict", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x"), "after the dictionary"},
		{"missing comma", hdr("{'descr': '<f8' 'fortran_order': False}"), "want ',' or '}'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse(tc.raw)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", a.Header)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestUint64Overflow(t *testing.T) {
	a, err := Parse(rawNpy("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }\n", le(uint64(math.MaxUint64))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Int64s(); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("Int64s error %v, want one that says the value does not fit", err)
	}
}

func TestShapeString(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		want  string
	}{{nil, "scalar"}, {[]int{3}, "3"}, {[]int{4, 30}, "4x30"}} {
		if got := ShapeString(tc.shape); got != tc.want {
			t.Errorf("ShapeString(%v) = %q, want %q", tc.shape, got, tc.want)
		}
	}
}

// FuzzParse checks that no input makes Parse or the decoders panic, that a
// parsed array's data fits the file, and that what parses decodes to as many
// values as its shape has elements.
func FuzzParse(f *testing.F) {
	f.Add(npyBytes(f, mat.NewDense(2, 2, []float64{0, 1, 2, 3})))
	f.Add(npyBytes(f, []int64{1, 2, 3}))
	f.Add(npyBytes(f, []float32{1}))
	f.Add(npyBytes(f, []uint16{7, 8}))
	f.Add(npyBytes(f, mat.NewDense(4, 30, make([]float64, 120)))[:50])
	f.Add(rawNpy("{'descr': '>f4', 'fortran_order': True, 'shape': (2, 2), }\n", le([]float32{1, 2, 3, 4})))
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'descr': '<i1'}"))
	f.Add([]byte("\x93NUMPY\x01\x00\x04\x00abcd"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := Parse(raw)
		if err != nil {
			if a != nil {
				t.Fatalf("Parse returned an array with error %v", err)
			}
			return
		}
		n := a.Elems()
		if n*a.Size > len(raw) {
			t.Fatalf("shape %v of %d-byte elements does not fit %d bytes", a.Shape, a.Size, len(raw))
		}
		var got int
		if a.Kind == 'f' {
			v, err := a.Float64s()
			if err != nil {
				t.Fatal(err)
			}
			got = len(v)
		} else {
			v, err := a.Int64s()
			if err != nil {
				if !strings.Contains(err.Error(), "does not fit") {
					t.Fatal(err)
				}
				return
			}
			got = len(v)
		}
		if got != n {
			t.Fatalf("decoded %d values, shape %v has %d", got, a.Shape, n)
		}
	})
}
