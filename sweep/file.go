package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/delgrad-go/delgrad/configs"
	"github.com/delgrad-go/delgrad/trainer"
)

// MaxRuns bounds the runs of one sweep (grid points times seeds), so that
// a typo in a grid is a clear error rather than weeks of training.
const MaxRuns = 100000

// Spec is a parsed sweep file: a base config, a grid of overrides and the
// seeds every grid point is trained with.
//
//	base = "yin_yang_H30_WA"   # a built-in config, or a file relative to the sweep file
//	seeds = "1-20"             # or a list: [1, 2, 5]
//	epochs = 100               # optional: overrides the base's training.epochs
//	[grid]
//	"layers.0.size" = [5, 10, 20, 30]
//	"training.learning_rate" = [0.005, 0.01]
//	[resources]                # optional, for -backend slurm
//	gpus = 1
//	time = "02:00:00"
//	[report]
//	params = ["layers.0.size"] # swept keys to plot the accuracy against
type Spec struct {
	// Base is the base config as the file names it.
	Base string
	// Seeds are the seeds of every grid point, ascending.
	Seeds []uint64
	// Epochs overrides the base's training.epochs when > 0.
	Epochs int
	// Grid lists the swept keys in the file's order, each with its values.
	Grid []Axis
	// Resources are what a cluster task asks for.
	Resources Resources
	// ReportParams are the swept keys the report plots accuracy against.
	ReportParams []string
	// Raw is the sweep file's text.
	Raw []byte

	// dir is the sweep file's directory, against which a relative base
	// path is resolved; empty for a spec that was only decoded.
	dir string
}

// Axis is one swept config key (dotted, arrays of tables indexed by
// number: "layers.0.size") and its values.
type Axis struct {
	Key    string
	Values []any
}

// Override sets one config key to one value.
type Override struct {
	Key   string
	Value any
}

// Point is one grid point: its name (from its overrides) and overrides.
type Point struct {
	Name      string
	Overrides []Override
}

// fileSpec is a sweep file's TOML layout.
type fileSpec struct {
	Base      string         `toml:"base"`
	Seeds     any            `toml:"seeds"`
	Epochs    *int           `toml:"epochs"`
	Grid      map[string]any `toml:"grid"`
	Resources struct {
		GPUs      int      `toml:"gpus"`
		CPUs      int      `toml:"cpus"`
		Time      string   `toml:"time"`
		Partition string   `toml:"partition"`
		Extra     []string `toml:"extra"`
	} `toml:"resources"`
	Report struct {
		Params []string `toml:"params"`
	} `toml:"report"`
}

// ParseFile reads and checks the sweep file at path; its base config is
// resolved relative to the file's directory. Errors name the key at fault
// and the fix.
func ParseFile(path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep file: %w", err)
	}
	s, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("sweep file %s: %w", path, err)
	}
	if s.dir, err = filepath.Abs(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("sweep file %s: %w", path, err)
	}
	if _, err := s.Configs(); err != nil {
		return nil, fmt.Errorf("sweep file %s: %w", path, err)
	}
	return s, nil
}

// Decode parses a sweep file's text strictly (unknown keys are errors)
// without loading its base config: Configs does that.
func Decode(raw []byte) (*Spec, error) {
	var f fileSpec
	md, err := toml.Decode(string(raw), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, err
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] == "grid" {
			continue // the grid's keys are config keys, checked below
		}
		unknown = append(unknown, k.String())
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown key %s: a sweep file has base, seeds, epochs, [grid], [resources] (gpus, cpus, time, partition, extra) and [report] (params)", strings.Join(unknown, ", "))
	}
	s := &Spec{Base: f.Base, Raw: raw, ReportParams: f.Report.Params,
		Resources: Resources{GPUs: f.Resources.GPUs, CPUs: f.Resources.CPUs, Time: f.Resources.Time,
			Partition: f.Resources.Partition, Extra: f.Resources.Extra}}
	if s.Base == "" {
		return nil, fmt.Errorf("no base: name the base config, e.g. base = %q (delgrad configs lists the built-in ones) or a file relative to the sweep file", "yin_yang_H30_WA")
	}
	if s.Seeds, err = decodeSeeds(f.Seeds); err != nil {
		return nil, err
	}
	if f.Epochs != nil {
		if *f.Epochs < 1 {
			return nil, fmt.Errorf("epochs = %d: must be >= 1 (or leave it out for the base config's training.epochs)", *f.Epochs)
		}
		s.Epochs = *f.Epochs
	}
	if s.Resources.GPUs < 0 || s.Resources.CPUs < 0 {
		return nil, fmt.Errorf("resources: gpus = %d, cpus = %d: must be >= 0", s.Resources.GPUs, s.Resources.CPUs)
	}
	// The grid's keys in the file's order: that order is the expansion's.
	for _, k := range md.Keys() {
		if len(k) != 2 || k[0] != "grid" {
			continue
		}
		key := k[1]
		list, ok := f.Grid[key].([]any)
		if !ok {
			return nil, fmt.Errorf("grid: %q = %v: want a list of values, e.g. %q = [5, 10]", key, f.Grid[key], key)
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("grid: %q = []: the list is empty: give at least one value, or remove the key", key)
		}
		switch {
		case key == "seed":
			return nil, errors.New(`grid: "seed": seeds are swept by the top-level seeds key: remove it from [grid]`)
		case key == "training.epochs" && s.Epochs > 0:
			return nil, errors.New(`grid: "training.epochs" is swept, and epochs is set too: remove one`)
		case key == "name":
			return nil, errors.New(`grid: "name": the runs' names come from the base config: remove it from [grid]`)
		}
		for i, v := range list {
			for _, w := range list[:i] {
				if reflect.DeepEqual(v, w) {
					return nil, fmt.Errorf("grid: %q lists %s twice", key, formatValue(v))
				}
			}
		}
		s.Grid = append(s.Grid, Axis{Key: key, Values: list})
	}
	for _, p := range s.ReportParams {
		if !slices.ContainsFunc(s.Grid, func(a Axis) bool { return a.Key == p }) {
			return nil, fmt.Errorf("report: params: %q is not a key of [grid] (swept: %s)", p, strings.Join(s.keys(), ", "))
		}
	}
	n := len(s.Seeds)
	for _, a := range s.Grid {
		if n *= len(a.Values); n > MaxRuns {
			return nil, fmt.Errorf("the grid and seeds make more than %d runs: sweep fewer values or seeds", MaxRuns)
		}
	}
	return s, nil
}

// decodeSeeds reads seeds: a string of ranges ("1-20", "1,3,5") or a list
// of integers.
func decodeSeeds(v any) ([]uint64, error) {
	switch v := v.(type) {
	case nil:
		return nil, errors.New(`no seeds: give the seeds of every grid point, e.g. seeds = "1-20" or seeds = [1, 2, 3]`)
	case string:
		s, err := ParseSeeds(v)
		if err != nil {
			return nil, fmt.Errorf("seeds = %q: %w", v, err)
		}
		return s, nil
	case []any:
		var parts []string
		for _, x := range v {
			i, ok := x.(int64)
			if !ok || i < 0 {
				return nil, fmt.Errorf("seeds: %s: want integers >= 0", formatValue(x))
			}
			parts = append(parts, strconv.FormatInt(i, 10))
		}
		if len(parts) == 0 {
			return nil, errors.New("seeds = []: give at least one seed")
		}
		s, err := ParseSeeds(strings.Join(parts, ","))
		if err != nil {
			return nil, fmt.Errorf("seeds: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("seeds = %v: want a string of ranges (\"1-20\") or a list of integers", v)
}

// keys lists the swept keys.
func (s *Spec) keys() []string {
	var k []string
	for _, a := range s.Grid {
		k = append(k, a.Key)
	}
	return k
}

// Points expands the grid: the cartesian product of its values, the first
// key varying slowest, each value in its listed order. A grid without keys
// has one point, "base".
func (s *Spec) Points() ([]Point, error) {
	pts := []Point{{}}
	for _, a := range s.Grid {
		var next []Point
		for _, p := range pts {
			for _, v := range a.Values {
				ovs := append(slices.Clip(p.Overrides), Override{a.Key, v})
				next = append(next, Point{Overrides: ovs})
			}
		}
		pts = next
	}
	seen := map[string]int{}
	for i := range pts {
		pts[i].Name = pointName(pts[i].Overrides)
		if j, ok := seen[pts[i].Name]; ok {
			return nil, fmt.Errorf("grid points %d and %d have one name, %s: their values differ only in characters a directory name cannot hold", j, i, pts[i].Name)
		}
		seen[pts[i].Name] = i
	}
	return pts, nil
}

// maxNameLen bounds a point's directory name (file systems allow 255
// bytes); longer names are cut and end in a hash of the whole.
const maxNameLen = 200

// pointName names a grid point from its overrides: key=value pairs joined
// by commas, characters a file name should not hold replaced by _.
func pointName(ovs []Override) string {
	if len(ovs) == 0 {
		return "base"
	}
	var parts []string
	for _, o := range ovs {
		parts = append(parts, o.Key+"="+formatValue(o.Value))
	}
	name := safeName(strings.Join(parts, ","))
	if len(name) > maxNameLen {
		h := fnv.New32a()
		h.Write([]byte(name))
		name = fmt.Sprintf("%s-%08x", name[:maxNameLen-9], h.Sum32())
	}
	return name
}

// safeName replaces the characters of s that a file name should not hold
// by _ (and a leading dot, which would hide the file).
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-+=,", r):
			return r
		}
		return '_'
	}, s)
	if strings.HasPrefix(s, ".") {
		s = "_" + s[1:]
	}
	return s
}

// formatValue writes a grid value as TOML-like text.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []any:
		var p []string
		for _, x := range v {
			p = append(p, formatValue(x))
		}
		return strings.Join(p, "_")
	}
	return fmt.Sprint(v)
}

// BaseConfig loads the base config: a file relative to the sweep file's
// directory if there is one, else a built-in config; epochs applies.
func (s *Spec) BaseConfig() (trainer.Config, error) {
	var c trainer.Config
	p := s.Base
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.dir, p)
	}
	if _, err := os.Stat(p); err == nil && s.dir != "" {
		if c, err = trainer.Load(p); err != nil {
			return c, fmt.Errorf("base: %w", err)
		}
	} else {
		f, err := configs.Open(s.Base)
		if err != nil {
			return c, fmt.Errorf("base = %q: no such file (relative to the sweep file) and no such built-in config (built-in: %s)", s.Base, strings.Join(configs.Names(), ", "))
		}
		defer f.Close()
		if c, err = trainer.Parse(f); err != nil {
			return c, fmt.Errorf("base: built-in config %s: %w", s.Base, err)
		}
	}
	if s.Epochs > 0 {
		c.Training.Epochs = s.Epochs
	}
	return c, nil
}

// PointConfig is a grid point with its config (seed: the base's).
type PointConfig struct {
	Point
	Config trainer.Config
}

// Configs loads the base config and makes every grid point's config,
// checking each value alone (an unknown key, a wrong type, a bad value:
// the error names the grid key) and each point (a bad combination: the
// error names the point).
func (s *Spec) Configs() ([]PointConfig, error) {
	base, err := s.BaseConfig()
	if err != nil {
		return nil, err
	}
	for _, a := range s.Grid {
		for _, v := range a.Values {
			if _, err := Apply(base, []Override{{a.Key, v}}); err != nil {
				return nil, fmt.Errorf("grid: %w", err)
			}
		}
	}
	pts, err := s.Points()
	if err != nil {
		return nil, err
	}
	out := make([]PointConfig, len(pts))
	for i, p := range pts {
		c, err := Apply(base, p.Overrides)
		if err != nil {
			return nil, fmt.Errorf("grid point %s: the values make an invalid config: %w", p.Name, err)
		}
		out[i] = PointConfig{p, c}
	}
	return out, nil
}

// Apply sets the overrides on a copy of base: on its TOML form, which is
// then parsed strictly as a config file is. An error names the override's
// key and value.
func Apply(base trainer.Config, ovs []Override) (trainer.Config, error) {
	var buf bytes.Buffer
	if err := base.Encode(&buf); err != nil {
		return trainer.Config{}, err
	}
	m := map[string]any{}
	if _, err := toml.Decode(buf.String(), &m); err != nil {
		return trainer.Config{}, fmt.Errorf("base config: %w", err)
	}
	for _, o := range ovs {
		if err := setPath(m, o.Key, o.Value); err != nil {
			return trainer.Config{}, fmt.Errorf("%q = %s: %w", o.Key, tomlValue(o.Value), err)
		}
	}
	buf.Reset()
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		return trainer.Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := trainer.Parse(&buf)
	if err != nil {
		if len(ovs) == 1 {
			msg := err.Error()
			if strings.Contains(msg, "unknown key") {
				return c, fmt.Errorf("%q: the config has no such key (see configs/README.md for the keys; arrays of tables take an index: layers.0.size)", ovs[0].Key)
			}
			if strings.Contains(msg, "incompatible types") {
				return c, fmt.Errorf("%q = %s: wrong type: %w", ovs[0].Key, tomlValue(ovs[0].Value), err)
			}
			return c, fmt.Errorf("%q = %s: %w", ovs[0].Key, tomlValue(ovs[0].Value), err)
		}
		return c, err
	}
	return c, nil
}

// tomlValue writes v as TOML writes a value (strings quoted).
func tomlValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	if a, ok := v.([]any); ok {
		var p []string
		for _, x := range a {
			p = append(p, tomlValue(x))
		}
		return "[" + strings.Join(p, ", ") + "]"
	}
	return formatValue(v)
}

// setPath sets the dotted key in the decoded TOML document m to v. Arrays
// take a numeric index; an index out of range, a path through a value and
// a value of another type than the one it replaces are errors.
func setPath(m map[string]any, key string, v any) error {
	parts := strings.Split(key, ".")
	var cur any = m
	for i, p := range parts {
		last := i == len(parts)-1
		at := strings.Join(parts[:i], ".")
		switch node := cur.(type) {
		case map[string]any:
			if last {
				nv, err := sameType(node[p], v)
				if err != nil {
					return err
				}
				node[p] = nv
				return nil
			}
			next, ok := node[p]
			if !ok {
				nm := map[string]any{}
				node[p], next = nm, nm
			}
			cur = next
		case []map[string]any:
			idx, err := index(at, p, len(node))
			if err != nil {
				return err
			}
			if last {
				return fmt.Errorf("%s is a table: set one of its keys (%s.KEY)", key, key)
			}
			cur = node[idx]
		case []any:
			idx, err := index(at, p, len(node))
			if err != nil {
				return err
			}
			if last {
				nv, err := sameType(node[idx], v)
				if err != nil {
					return err
				}
				node[idx] = nv
				return nil
			}
			cur = node[idx]
		default:
			return fmt.Errorf("%s is a value (%s), not a table: there is no key %s", at, tomlValue(node), key)
		}
	}
	return nil
}

// index reads the array index p of the array at (of n entries).
func index(at, p string, n int) (int, error) {
	i, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("%s is an array: want an index 0..%d after it, not %q", at, n-1, p)
	}
	if i < 0 || i >= n {
		return 0, fmt.Errorf("index %d is out of range: the config's %s has %d entries (0..%d)", i, at, n, n-1)
	}
	return i, nil
}

// sameType checks that v can replace old (nil: a key the base config
// leaves unset, which the strict parse then checks) and converts an
// integer that replaces a float.
func sameType(old, v any) (any, error) {
	if old == nil {
		return v, nil
	}
	kind := func(x any) string {
		switch x.(type) {
		case int64:
			return "an integer"
		case float64:
			return "a number"
		case string:
			return "a string"
		case bool:
			return "a boolean"
		case []any, []map[string]any:
			return "an array"
		case map[string]any:
			return "a table"
		}
		return fmt.Sprintf("a %T", x)
	}
	switch o := old.(type) {
	case float64:
		if i, ok := v.(int64); ok {
			return float64(i), nil
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, fmt.Errorf("wrong value: want a finite number")
		}
	case int64:
		if _, ok := v.(float64); ok {
			return nil, fmt.Errorf("wrong type: want an integer (the base has %d), not a number with a fraction or exponent", o)
		}
	}
	if kind(old) != kind(v) {
		return nil, fmt.Errorf("wrong type: want %s (the base has %s), not %s", kind(old), tomlValue(old), kind(v))
	}
	return v, nil
}
