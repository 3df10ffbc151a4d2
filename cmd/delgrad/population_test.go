package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

func TestParseSeeds(t *testing.T) {
	cases := []struct {
		in   string
		want []uint64
		err  string
	}{
		{"1-4", []uint64{1, 2, 3, 4}, ""},
		{"5,1,3", []uint64{1, 3, 5}, ""},
		{"1-3,10", []uint64{1, 2, 3, 10}, ""},
		{"0", []uint64{0}, ""},
		{"7-7", []uint64{7}, ""},
		{"3-1", nil, "want a range A-B with 0 <= A <= B"},
		{"1,1", nil, "seed 1 is listed twice"},
		{"1-3,2", nil, "seed 2 is listed twice"},
		{"-5", nil, "want a seed"},
		{"a", nil, "want a seed"},
		{"", nil, "want a seed"},
		{"1-100000", nil, "more than 4096 seeds"},
	}
	for _, c := range cases {
		got, err := parseSeeds(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseSeeds(%q): error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseSeeds(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if s := seedList(got); c.in == "1-3,10" && s != "1-3,10" {
			t.Errorf("seedList(%v) = %q", got, s)
		}
	}
}

// readCSV returns the rows of the CSV file at path.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// metricsNoTime returns metrics.csv without its wall-time columns.
func metricsNoTime(t *testing.T, path string) [][]string {
	t.Helper()
	rows := readCSV(t, path)
	for i, r := range rows {
		rows[i] = r[:len(r)-2] // samples_per_s, seconds
	}
	return rows
}

// TestTrainSeeds: `train -seeds` writes one run directory per seed, each
// the same as `train -seed N` writes (networks, config, metrics but the
// wall times); `resume` on the population continues every member.
func TestTrainSeeds(t *testing.T) {
	root := t.TempDir()
	pop := filepath.Join(root, "pop")
	out := runOK(t, "train", "-seeds", "1-3", "-epochs", "2", "-out", pop, "-workers", "2")
	if !strings.Contains(out, "3 members, test accuracy") || !strings.Contains(out, "members: 3 trained, 3 done, 0 failed") {
		t.Fatalf("population output lacks its summary or progress:\n%s", out)
	}
	single := filepath.Join(root, "single")
	runOK(t, "train", "-seed", "2", "-epochs", "2", "-out", single, "-workers", "1", "-quiet")
	member := filepath.Join(pop, "seed2")
	for _, f := range []string{"config.toml", "network/network.json", "network/layer1_weights.npy", "network/layer0_delay.npy", "network_best/layer3_weights.npy"} {
		a, err1 := os.ReadFile(filepath.Join(single, f))
		b, err2 := os.ReadFile(filepath.Join(member, f))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between train -seed 2 and the population's seed2", f)
		}
	}
	if a, b := metricsNoTime(t, filepath.Join(single, "metrics.csv")), metricsNoTime(t, filepath.Join(member, "metrics.csv")); !reflect.DeepEqual(a, b) {
		t.Errorf("metrics differ:\n%v\n%v", a, b)
	}
	out = runOK(t, "resume", "-run", pop, "-epochs", "3")
	if !strings.Contains(out, "resuming 3 of 3 members") {
		t.Fatalf("resume output:\n%s", out)
	}
	for _, s := range []string{"seed1", "seed2", "seed3"} {
		if rows := metricsNoTime(t, filepath.Join(pop, s, "metrics.csv")); len(rows) != 4 {
			t.Errorf("%s has %d metrics rows after resume to 3 epochs, want 4", s, len(rows))
		}
	}
	out = runOK(t, "resume", "-run", pop, "-epochs", "3")
	if !strings.Contains(out, "nothing to do") {
		t.Fatalf("second resume output:\n%s", out)
	}
	var o, e bytes.Buffer
	err := run([]string{"train", "-seed", "1", "-seeds", "1-2", "-out", filepath.Join(root, "x")}, &o, &e)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "-seed or -seeds") {
		t.Fatalf("-seed with -seeds: %v, want a usage error", err)
	}
}

// Commands that take one run refuse a population's directory and name a
// member; eval -net refuses two ways of giving the data at once and names
// the labels file, sample and value of an out-of-range label.
func TestOneRunAndDataFlags(t *testing.T) {
	root := t.TempDir()
	pop := filepath.Join(root, "pop")
	runOK(t, "train", "-seeds", "1-2", "-epochs", "1", "-out", pop, "-quiet")
	data := filepath.Join(root, "d")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeNpy := func(name string, v any) string {
		p := filepath.Join(data, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := npyio.Write(f, v); err != nil {
			t.Fatal(err)
		}
		return p
	}
	x := writeNpy("x.npy", mat.NewDense(3, 4, []float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3}))
	y := writeNpy("y.npy", []int64{0, 7, 1})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"eval population", []string{"eval", "-run", pop}, "holds a population of 2 runs (train -seeds), not one run: give one of its members, e.g. -run " + filepath.Join(pop, "seed1")},
		{"export population", []string{"export", "-run", pop, "-out", filepath.Join(root, "net")}, "export: " + pop + " holds a population"},
		{"robustness population", []string{"robustness", "-run", pop}, "robustness: " + pop + " holds a population"},
		{"samples and data", []string{"eval", "-samples", x, "-labels", y, "-data", data}, "-data cannot be used with -samples/-labels"},
		{"samples and dataset", []string{"eval", "-samples", x, "-labels", y, "-dataset", "mnist"}, "-dataset cannot be used with -samples/-labels"},
		{"data and dataset", []string{"eval", "-data", data, "-dataset", "mnist"}, "-dataset cannot be used with -data"},
		{"label out of range", []string{"eval", "-samples", x, "-labels", y}, y + ": label 7 at sample 1 is outside 0..2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var o, e bytes.Buffer
			err := run(c.args, &o, &e)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("delgrad %s: %v, want a usage error saying %q", strings.Join(c.args, " "), err, c.want)
			}
		})
	}
}
