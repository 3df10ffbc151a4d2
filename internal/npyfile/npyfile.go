// Package npyfile parses NumPy .npy files (format versions 1, 2 and 3) with
// numeric dtypes, checking everything before it decodes: the magic string,
// the header dictionary, the dtype, the shape and that the file holds all
// the data the header announces. Every reader of .npy files in the project
// goes through it, so that a damaged or truncated file gives an error that
// says what is wrong instead of a panic deep in a library. Errors do not
// name the file; callers add it.
//
// Writing stays with codeberg.org/sbinet/npyio.
package npyfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// magic starts every .npy file.
const magic = "\x93NUMPY"

// maxElems bounds the number of elements of an array (and so the memory a
// header can make a reader allocate before the length check).
const maxElems = math.MaxInt32

// Header is the parsed header of a .npy file.
type Header struct {
	// Descr is the dtype as written in the file, such as "<f8".
	Descr string
	// Kind is 'f' (float), 'i' (signed integer) or 'u' (unsigned integer).
	Kind byte
	// Size is the element size in bytes: 4 or 8 for floats, 1, 2, 4 or 8
	// for integers.
	Size int
	// Order is the byte order of the data.
	Order binary.ByteOrder
	// Fortran reports column-major data.
	Fortran bool
	// Shape is the array's shape; empty for a scalar.
	Shape []int
}

// Elems returns the number of elements (1 for a scalar).
func (h Header) Elems() int {
	n := 1
	for _, d := range h.Shape {
		n *= d
	}
	return n
}

// TypeName returns the dtype's NumPy name, such as "float64" or "uint8".
func (h Header) TypeName() string {
	name := map[byte]string{'f': "float", 'i': "int", 'u': "uint"}[h.Kind]
	return name + strconv.Itoa(8*h.Size)
}

// ShapeString returns the shape as "4x30" ("scalar" for no dimensions).
func ShapeString(shape []int) string {
	if len(shape) == 0 {
		return "scalar"
	}
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, "x")
}

// Array is a decoded .npy file.
type Array struct {
	Header
	// data holds the raw bytes of the Elems() elements, in file order.
	data []byte
}

// Parse checks the .npy file raw and returns its header and data. It fails
// on a missing magic string, an unknown format version, a malformed header
// dictionary, an unsupported dtype (anything but float32, float64 and the
// integer types), a negative or too large shape, and on a file with fewer
// data bytes than the shape needs. Bytes after the data are ignored, as
// numpy.load does.
func Parse(raw []byte) (*Array, error) {
	if len(raw) < len(magic) || string(raw[:len(magic)]) != magic {
		n := min(len(raw), len(magic))
		return nil, fmt.Errorf("not a .npy file (magic %q, want %q)", raw[:n], magic)
	}
	rest := raw[len(magic):]
	if len(rest) < 2 {
		return nil, fmt.Errorf("file is truncated: %d bytes end inside the format version", len(raw))
	}
	major, minor := rest[0], rest[1]
	rest = rest[2:]
	var hlen int
	switch major {
	case 1:
		if len(rest) < 2 {
			return nil, fmt.Errorf("file is truncated: %d bytes end inside the header length", len(raw))
		}
		hlen, rest = int(binary.LittleEndian.Uint16(rest)), rest[2:]
	case 2, 3:
		if len(rest) < 4 {
			return nil, fmt.Errorf("file is truncated: %d bytes end inside the header length", len(raw))
		}
		n := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, fmt.Errorf("file is truncated: header length %d, but only %d bytes follow", n, len(rest))
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("unsupported .npy format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	if hlen > len(rest) {
		return nil, fmt.Errorf("file is truncated: header length %d, but only %d bytes follow", hlen, len(rest))
	}
	h, err := parseDict(rest[:hlen])
	if err != nil {
		return nil, fmt.Errorf("malformed .npy header: %w", err)
	}
	data := rest[hlen:]
	need := h.Elems() * h.Size
	if len(data) < need {
		return nil, fmt.Errorf("file is truncated: header says %s %s (%d bytes of data), file has %d",
			ShapeString(h.Shape), h.TypeName(), need, len(data))
	}
	return &Array{Header: h, data: data[:need]}, nil
}

// parseDict parses the header dictionary, such as
// "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 30), }" followed by
// spaces and a newline.
func parseDict(b []byte) (Header, error) {
	var h Header
	s := strings.TrimRight(string(b), " \t\r\n\x00")
	p := &dictParser{s: s}
	if !p.eat('{') {
		return h, errors.New("does not start with '{'")
	}
	seen := map[string]bool{}
	for {
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, fmt.Errorf("key: %w", err)
		}
		if seen[key] {
			return h, fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		if !p.eat(':') {
			return h, fmt.Errorf("no ':' after key %q", key)
		}
		switch key {
		case "descr":
			if p.peek() == '[' {
				return h, errors.New("structured dtypes are not supported (want float32/float64 or an integer type)")
			}
			if h.Descr, err = p.str(); err != nil {
				return h, fmt.Errorf("descr: %w", err)
			}
		case "fortran_order":
			if h.Fortran, err = p.boolean(); err != nil {
				return h, fmt.Errorf("fortran_order: %w", err)
			}
		case "shape":
			if h.Shape, err = p.tuple(); err != nil {
				return h, fmt.Errorf("shape: %w", err)
			}
		default:
			return h, fmt.Errorf("unexpected key %q", key)
		}
		if p.eat('}') {
			break
		}
		if !p.eat(',') {
			return h, fmt.Errorf("want ',' or '}' after %q's value at offset %d", key, p.i)
		}
	}
	if p.skip(); p.i != len(p.s) {
		return h, fmt.Errorf("unexpected %q after the dictionary", trunc(p.s[p.i:]))
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, fmt.Errorf("key %q missing", k)
		}
	}
	var err error
	if h.Kind, h.Size, h.Order, err = parseDtype(h.Descr); err != nil {
		return h, err
	}
	n := 1
	for _, d := range h.Shape {
		if d < 0 {
			return h, fmt.Errorf("invalid shape %v: negative dimension", h.Shape)
		}
		if d > 0 && n > maxElems/d {
			return h, fmt.Errorf("invalid shape %v: more than %d elements", h.Shape, maxElems)
		}
		n *= d
	}
	return h, nil
}

// parseDtype parses a simple NumPy dtype string such as "<f8" or "|u1".
func parseDtype(descr string) (kind byte, size int, order binary.ByteOrder, err error) {
	bad := fmt.Errorf("unsupported dtype %q (want float32/float64 or an integer type)", descr)
	d := descr
	order = binary.LittleEndian
	if d != "" {
		switch d[0] {
		case '>':
			order = binary.BigEndian
			d = d[1:]
		case '<', '|', '=':
			d = d[1:]
		}
	}
	if len(d) < 2 {
		return 0, 0, nil, bad
	}
	kind = d[0]
	size, err = strconv.Atoi(d[1:])
	if err != nil {
		return 0, 0, nil, bad
	}
	switch {
	case kind == 'f' && (size == 4 || size == 8):
	case (kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8):
	default:
		return 0, 0, nil, bad
	}
	return kind, size, order, nil
}

// dictParser reads the Python literal of a .npy header.
type dictParser struct {
	s string
	i int
}

func (p *dictParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *dictParser) peek() byte {
	p.skip()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// eat consumes c (after blanks) and reports whether it was there.
func (p *dictParser) eat(c byte) bool {
	if p.peek() == c && p.i < len(p.s) {
		p.i++
		return true
	}
	return false
}

// str reads a quoted string without escapes.
func (p *dictParser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("want a quoted string at offset %d", p.i)
	}
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

// boolean reads True or False.
func (p *dictParser) boolean() (bool, error) {
	p.skip()
	for _, w := range []struct {
		lit string
		v   bool
	}{{"True", true}, {"False", false}} {
		if strings.HasPrefix(p.s[p.i:], w.lit) {
			p.i += len(w.lit)
			return w.v, nil
		}
	}
	return false, fmt.Errorf("want True or False, have %q", trunc(p.s[p.i:]))
}

// tuple reads a tuple of non-negative decimal integers, such as (4, 30),
// (4,) or ().
func (p *dictParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, fmt.Errorf("want a tuple, have %q", trunc(p.s[p.i:]))
	}
	shape := []int{}
	for {
		if p.eat(')') {
			return shape, nil
		}
		p.skip()
		j := p.i
		if j < len(p.s) && (p.s[j] == '-' || p.s[j] == '+') {
			j++
		}
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		tok := strings.TrimSuffix(p.s[p.i:j], "L") // Python 2 longs
		d, err := strconv.Atoi(tok)
		if err != nil {
			return nil, fmt.Errorf("want an integer, have %q", trunc(p.s[p.i:]))
		}
		if d < 0 {
			return nil, fmt.Errorf("negative dimension %d", d)
		}
		p.i = j
		if j < len(p.s) && p.s[j] == 'L' {
			p.i++
		}
		shape = append(shape, d)
		if p.eat(')') {
			return shape, nil
		}
		if !p.eat(',') {
			return nil, fmt.Errorf("want ',' or ')' in the tuple, have %q", trunc(p.s[p.i:]))
		}
	}
}

// trunc shortens s for an error message.
func trunc(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// Float64s returns the data as float64 in C (row-major) order. It fails
// for integer dtypes.
func (a *Array) Float64s() ([]float64, error) {
	if a.Kind != 'f' {
		return nil, fmt.Errorf("dtype %s (%s): want float32 or float64", a.Descr, a.TypeName())
	}
	n := a.Elems()
	out := make([]float64, n)
	for i := range out {
		b := a.data[i*a.Size:]
		if a.Size == 8 {
			out[i] = math.Float64frombits(a.Order.Uint64(b))
		} else {
			out[i] = float64(math.Float32frombits(a.Order.Uint32(b)))
		}
	}
	return toCOrder(a.Shape, a.Fortran, out), nil
}

// Int64s returns the data as int64 in C (row-major) order. It fails for
// float dtypes and for uint64 values above math.MaxInt64.
func (a *Array) Int64s() ([]int64, error) {
	if a.Kind == 'f' {
		return nil, fmt.Errorf("dtype %s (%s): want an integer type", a.Descr, a.TypeName())
	}
	n := a.Elems()
	out := make([]int64, n)
	signed := a.Kind == 'i'
	for i := range out {
		b := a.data[i*a.Size:]
		switch {
		case a.Size == 1 && signed:
			out[i] = int64(int8(b[0]))
		case a.Size == 1:
			out[i] = int64(b[0])
		case a.Size == 2 && signed:
			out[i] = int64(int16(a.Order.Uint16(b)))
		case a.Size == 2:
			out[i] = int64(a.Order.Uint16(b))
		case a.Size == 4 && signed:
			out[i] = int64(int32(a.Order.Uint32(b)))
		case a.Size == 4:
			out[i] = int64(a.Order.Uint32(b))
		case signed:
			out[i] = int64(a.Order.Uint64(b))
		default:
			v := a.Order.Uint64(b)
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("value %d at index %d does not fit in int64", v, i)
			}
			out[i] = int64(v)
		}
	}
	return toCOrder(a.Shape, a.Fortran, out), nil
}

// toCOrder reorders column-major data of any shape to row-major.
func toCOrder[T any](shape []int, fortran bool, v []T) []T {
	if !fortran || len(shape) < 2 || len(v) == 0 {
		return v
	}
	out := make([]T, len(v))
	idx := make([]int, len(shape)) // multi-index, first axis fastest (Fortran order)
	for f := range v {
		c := 0
		for k := range shape {
			c = c*shape[k] + idx[k]
		}
		out[c] = v[f]
		for k := range idx {
			if idx[k]++; idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}
