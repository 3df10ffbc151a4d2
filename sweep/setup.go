package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/delgrad-go/delgrad/internal/atomicfile"
	"github.com/delgrad-go/delgrad/trainer"
)

// Files of a sweep directory (besides PlanFile and the points' directories).
const (
	// SpecFile is the copy of the sweep file.
	SpecFile = "sweep.toml"
	// PointConfigFile, in a point's directory, is the point's config (the
	// base config with the point's overrides; the runs set their seeds).
	PointConfigFile = "point.toml"
	// FailuresDir holds a file per task listing its failed runs.
	FailuresDir = "failures"
	// RunningDir holds a marker per task under way.
	RunningDir = "running"
)

// MaxPopulation bounds the runs of one task: a grid point with more seeds
// is split into tasks of at most this many.
const MaxPopulation = 64

// InputError marks a failure caused by the sweep file or the sweep
// directory's contents: the user must change something first.
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// NewPlan expands s into tasks: a task per grid point and chunk of at most
// MaxPopulation seeds, in the grid's order; the runs are POINT/seedN.
func NewPlan(s *Spec, pts []Point) *Plan {
	p := &Plan{Resources: s.Resources}
	for _, pt := range pts {
		for lo := 0; lo < len(s.Seeds); lo += MaxPopulation {
			seeds := s.Seeds[lo:min(lo+MaxPopulation, len(s.Seeds))]
			name := pt.Name
			if len(s.Seeds) > MaxPopulation {
				name += " [seeds " + SeedList(seeds) + "]"
			}
			t := Task{Index: len(p.Tasks), Name: name, Point: pt.Name, Seeds: seeds}
			for _, sd := range seeds {
				t.Runs = append(t.Runs, RunDir(pt.Name, sd))
			}
			p.Tasks = append(p.Tasks, t)
		}
	}
	return p
}

// RunDir is the run directory of a point's seed, relative to the sweep
// directory.
func RunDir(point string, seed uint64) string {
	return filepath.Join(point, fmt.Sprintf("seed%d", seed))
}

// Prepare makes the sweep directory dir for s: the copy of the sweep file,
// the plan and every point's config. On a directory that holds a sweep
// already, it checks that s is the same sweep (same keys and values, same
// point configs) and refuses a different one, naming the differences,
// unless force (which replaces the sweep file, the plan and the point
// configs; runs whose configs changed are restarted when they run).
func Prepare(dir string, s *Spec, force bool) (*Plan, error) {
	pcs, err := s.Configs()
	if err != nil {
		return nil, InputError{err}
	}
	var pts []Point
	for _, pc := range pcs {
		pts = append(pts, pc.Point)
	}
	old, err := os.ReadFile(filepath.Join(dir, SpecFile))
	switch {
	case err == nil:
		if force {
			break
		}
		o, err := Decode(old)
		if err != nil {
			return nil, InputError{fmt.Errorf("sweep: %s: %w", filepath.Join(dir, SpecFile), err)}
		}
		if d := diffSpecs(o, s); len(d) > 0 {
			return nil, InputError{fmt.Errorf("sweep: %s holds another sweep: %s; give its sweep file again, another -out, or -force to replace the sweep (runs whose configs change restart)",
				dir, strings.Join(d, "; "))}
		}
	case !errors.Is(err, fs.ErrNotExist):
		if st, e := os.Stat(dir); e == nil && !st.IsDir() {
			return nil, InputError{fmt.Errorf("sweep: -out %s is a file, not a directory", dir)}
		}
		return nil, fmt.Errorf("sweep: %w", err)
	default:
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			return nil, InputError{fmt.Errorf("sweep: %s is not empty and holds no sweep (%s): give a new or empty directory", dir, SpecFile)}
		}
	}
	if err := fitChips(dir, pcs); err != nil {
		return nil, err
	}
	texts := make([][]byte, len(pcs))
	for i, pc := range pcs {
		var buf bytes.Buffer
		if err := pc.Config.Encode(&buf); err != nil {
			return nil, err
		}
		texts[i] = buf.Bytes()
		path := filepath.Join(dir, pc.Name, PointConfigFile)
		if old, err := os.ReadFile(path); err == nil && !force && !bytes.Equal(old, texts[i]) && !sameConfig(old, texts[i]) {
			return nil, InputError{fmt.Errorf("sweep: grid point %s: its config differs from %s (was the base config edited?): %s; -force replaces it (its runs restart)",
				pc.Name, path, lineDiff(old, texts[i]))}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	for i, pc := range pcs {
		if err := os.MkdirAll(filepath.Join(dir, pc.Name), 0o755); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, pc.Name, PointConfigFile), texts[i], 0o644); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, SpecFile), s.Raw, 0o644); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	p := NewPlan(s, pts)
	if err := WritePlan(dir, p); err != nil {
		return nil, err
	}
	return p, nil
}

// diffSpecs describes how b differs from a, key by key.
func diffSpecs(a, b *Spec) []string {
	var d []string
	if a.Base != b.Base {
		d = append(d, fmt.Sprintf("base %q, not %q", a.Base, b.Base))
	}
	if x, y := SeedList(a.Seeds), SeedList(b.Seeds); x != y {
		d = append(d, fmt.Sprintf("seeds %s, not %s", x, y))
	}
	if a.Epochs != b.Epochs {
		d = append(d, fmt.Sprintf("epochs %d, not %d (0: the base's)", a.Epochs, b.Epochs))
	}
	for _, ax := range a.Grid {
		i := slicesIndex(b.Grid, ax.Key)
		switch {
		case i < 0:
			d = append(d, fmt.Sprintf("grid key %q swept there, not here", ax.Key))
		case !reflect.DeepEqual(ax.Values, b.Grid[i].Values):
			d = append(d, fmt.Sprintf("grid %q = %s there, %s here", ax.Key, tomlValue(ax.Values), tomlValue(b.Grid[i].Values)))
		}
	}
	for _, ax := range b.Grid {
		if slicesIndex(a.Grid, ax.Key) < 0 {
			d = append(d, fmt.Sprintf("grid key %q swept here, not there", ax.Key))
		}
	}
	if len(d) == 0 && !reflect.DeepEqual(a.keys(), b.keys()) {
		d = append(d, fmt.Sprintf("grid keys in the order %s there, %s here", strings.Join(a.keys(), ", "), strings.Join(b.keys(), ", ")))
	}
	if !reflect.DeepEqual(a.Resources, b.Resources) {
		d = append(d, fmt.Sprintf("resources %+v there, %+v here", a.Resources, b.Resources))
	}
	if !reflect.DeepEqual(a.ReportParams, b.ReportParams) {
		d = append(d, fmt.Sprintf("report params %v there, %v here", a.ReportParams, b.ReportParams))
	}
	return d
}

func slicesIndex(g []Axis, key string) int {
	for i, a := range g {
		if a.Key == key {
			return i
		}
	}
	return -1
}

// lineDiff names the first lines where b differs from a.
func lineDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	var d []string
	for i := 0; i < max(len(al), len(bl)) && len(d) < 3; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			d = append(d, fmt.Sprintf("line %d: %q there, %q now", i+1, strings.TrimSpace(x), strings.TrimSpace(y)))
		}
	}
	return strings.Join(d, ", ")
}

// LoadPointConfig reads the config of the sweep directory's point.
func LoadPointConfig(dir, point string) (trainer.Config, error) {
	c, err := trainer.Load(filepath.Join(dir, point, PointConfigFile))
	if err != nil {
		return c, InputError{fmt.Errorf("sweep: %w", err)}
	}
	return c, nil
}

// fitChips refuses a sweep whose hardware-aware grid points ([bss2]) have
// a network that does not fit on one chip, before any run trains, naming
// the point and the limit. It loads each point's data (once per dataset)
// for the network's input count.
func fitChips(dir string, pcs []PointConfig) error {
	loaded := map[string]trainer.Data{}
	for _, pc := range pcs {
		c := pc.Config
		if c.BSS2 == nil {
			continue
		}
		key := fmt.Sprintf("%+v", c.Data)
		if c.Data.Name == "npy" {
			key += pc.Name // relative paths are the point's
		}
		data, ok := loaded[key]
		if !ok {
			var err error
			if data, err = trainer.LoadData(&c, filepath.Join(dir, pc.Name)); err != nil {
				continue // the point's task reports it
			}
			loaded[key] = data
		}
		if err := trainer.CheckChip(&c, data); err != nil {
			return InputError{fmt.Errorf("sweep: grid point %s: %w", pc.Name, err)}
		}
	}
	return nil
}

// sameConfig reports whether the recorded point config old reads as the
// config cur: a point.toml written by an older delgrad lacks the keys
// added since, which read as their defaults and change nothing.
func sameConfig(old, cur []byte) bool {
	c, err := trainer.Parse(bytes.NewReader(old))
	if err != nil {
		return false
	}
	var buf bytes.Buffer
	return c.Encode(&buf) == nil && bytes.Equal(buf.Bytes(), cur)
}
