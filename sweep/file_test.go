package sweep

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tinyBase is a small config file for sweeps to start from.
const tinyBase = `name = "tiny"
[[layers]]
size = 5
[[layers]]
size = 3
[training]
epochs = 1
`

// writeSweep writes a base config and a sweep file into a new directory
// and returns the sweep file's path.
func writeSweep(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "base.toml"), []byte(tinyBase), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "s.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseFileErrors(t *testing.T) {
	head := "base = \"base.toml\"\nseeds = \"1-2\"\n"
	cases := []struct {
		name, body, want string
	}{
		{"malformed", "base = \"x\n", "line 1"},
		{"unknown key", head + "seed = 3\n", "unknown key seed"},
		{"unknown section key", head + "[resources]\ngpu = 1\n", "unknown key resources.gpu"},
		{"no base", "seeds = \"1\"\n", "no base"},
		{"base not found", "base = \"nope\"\nseeds = \"1\"\n", `base = "nope": no such file`},
		{"no seeds", "base = \"base.toml\"\n", "no seeds"},
		{"bad seed range", "base = \"base.toml\"\nseeds = \"3-1\"\n", "want a range A-B"},
		{"negative seed", "base = \"base.toml\"\nseeds = [1, -2]\n", "seeds: -2: want integers >= 0"},
		{"float seed", "base = \"base.toml\"\nseeds = [1.5]\n", "want integers >= 0"},
		{"seed twice", "base = \"base.toml\"\nseeds = [1, 1]\n", "seed 1 is listed twice"},
		{"bad epochs", head + "epochs = 0\n", "epochs = 0: must be >= 1"},
		{"empty grid list", head + "[grid]\n\"layers.0.size\" = []\n", `"layers.0.size" = []: the list is empty`},
		{"grid not a list", head + "[grid]\n\"layers.0.size\" = 5\n", "want a list of values"},
		{"grid value twice", head + "[grid]\n\"layers.0.size\" = [5, 5]\n", `"layers.0.size" lists 5 twice`},
		{"unknown config key", head + "[grid]\n\"layers.0.sizee\" = [5]\n", `"layers.0.sizee": the config has no such key`},
		{"unknown table key", head + "[grid]\n\"training.learnig_rate\" = [0.1]\n", `"training.learnig_rate": the config has no such key`},
		{"index out of range", head + "[grid]\n\"layers.2.size\" = [5]\n", "index 2 is out of range: the config's layers has 2 entries (0..1)"},
		{"index not a number", head + "[grid]\n\"layers.first.size\" = [5]\n", `layers is an array: want an index 0..1 after it, not "first"`},
		{"whole table", head + "[grid]\n\"layers.0\" = [5]\n", "layers.0 is a table"},
		{"through a value", head + "[grid]\n\"name.x\" = [5]\n", `name is a value ("tiny"), not a table`},
		{"string for int", head + "[grid]\n\"layers.0.size\" = [\"a\"]\n", `"layers.0.size" = "a": wrong type: want an integer (the base has 5), not a string`},
		{"fraction for int", head + "[grid]\n\"layers.0.size\" = [5.5]\n", "want an integer (the base has 5), not a number with a fraction"},
		{"int for string", head + "[grid]\n\"layers.0.delay.kind\" = [3]\n", "want a string"},
		{"wrong type of unset key", head + "[grid]\n\"layers.0.learning_rate\" = [\"fast\"]\n", `"layers.0.learning_rate" = "fast": wrong type`},
		{"bad value", head + "[grid]\n\"layers.0.size\" = [0]\n", `"layers.0.size" = 0: config: layers[0].size = 0: must be >= 1`},
		{"bad enum", head + "[grid]\n\"layers.0.delay.kind\" = [\"bogus\"]\n", `"layers.0.delay.kind" = "bogus"`},
		{"bad combination", head + "[grid]\n\"neuron.tau_syn\" = [2.0]\n\"neuron.tau_mem\" = [1.0, 2.0]\n",
			"grid point neuron.tau_syn=2,neuron.tau_mem=1: the values make an invalid config: config: layers[0]: tau_mem / tau_syn = 0.5"},
		{"seed in grid", head + "[grid]\nseed = [1, 2]\n", "seeds are swept by the top-level seeds key"},
		{"epochs twice", head + "epochs = 3\n[grid]\n\"training.epochs\" = [1, 2]\n", `"training.epochs" is swept, and epochs is set too`},
		{"report param not swept", head + "[grid]\n\"layers.0.size\" = [5]\n[report]\nparams = [\"layers.1.size\"]\n", `report: params: "layers.1.size" is not a key of [grid]`},
		{"negative gpus", head + "[resources]\ngpus = -1\n", "must be >= 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseFile(writeSweep(t, c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	p := writeSweep(t, `base = "base.toml"
seeds = "1-70"
epochs = 2
[grid]
"layers.0.size" = [4, 8]
"training.learning_rate" = [0.01, 1]
"layers.0.delay.kind" = ["none", "axonal"]
[resources]
gpus = 1
time = "01:00:00"
[report]
params = ["layers.0.size"]
`)
	s, err := ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pcs, err := s.Configs()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, pc := range pcs {
		names = append(names, pc.Name)
	}
	want := []string{
		"layers.0.size=4,training.learning_rate=0.01,layers.0.delay.kind=none",
		"layers.0.size=4,training.learning_rate=0.01,layers.0.delay.kind=axonal",
		"layers.0.size=4,training.learning_rate=1,layers.0.delay.kind=none",
		"layers.0.size=4,training.learning_rate=1,layers.0.delay.kind=axonal",
		"layers.0.size=8,training.learning_rate=0.01,layers.0.delay.kind=none",
		"layers.0.size=8,training.learning_rate=0.01,layers.0.delay.kind=axonal",
		"layers.0.size=8,training.learning_rate=1,layers.0.delay.kind=none",
		"layers.0.size=8,training.learning_rate=1,layers.0.delay.kind=axonal",
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("points:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	c := pcs[3].Config
	if c.Layers[0].Size != 4 || c.Training.LearningRate != 1 || c.Layers[0].Delay.Kind != "axonal" || c.Training.Epochs != 2 || c.Layers[1].Size != 3 {
		t.Fatalf("point 3's config: size %d, lr %v, kind %s, epochs %d", c.Layers[0].Size, c.Training.LearningRate, c.Layers[0].Delay.Kind, c.Training.Epochs)
	}
	var pts []Point
	for _, pc := range pcs {
		pts = append(pts, pc.Point)
	}
	plan := NewPlan(s, pts)
	if len(plan.Tasks) != 16 || plan.Resources.GPUs != 1 || plan.Resources.Time != "01:00:00" {
		t.Fatalf("plan: %d tasks, resources %+v; want 16 (two chunks of seeds per point)", len(plan.Tasks), plan.Resources)
	}
	t0, t1 := plan.Tasks[0], plan.Tasks[1]
	if t0.Index != 0 || t1.Index != 1 || len(t0.Runs) != 64 || len(t1.Runs) != 6 || t0.Point != want[0] ||
		t0.Name != want[0]+" [seeds 1-64]" || t1.Name != want[0]+" [seeds 65-70]" ||
		t0.Runs[0] != filepath.Join(want[0], "seed1") || t1.Runs[5] != filepath.Join(want[0], "seed70") || t1.Seeds[0] != 65 {
		t.Fatalf("tasks 0 and 1: %+v\n%+v", t0, t1)
	}
	// No grid: one point, "base".
	s, err = ParseFile(writeSweep(t, "base = \"base.toml\"\nseeds = [3, 1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pts, _ := s.Points(); len(pts) != 1 || pts[0].Name != "base" || !reflect.DeepEqual(s.Seeds, []uint64{1, 3}) {
		t.Fatalf("no grid: %v, seeds %v", pts, s.Seeds)
	}
	// A built-in base config.
	s, err = ParseFile(writeSweep(t, "base = \"yin_yang_H30_WA\"\nseeds = \"1\"\n[grid]\n\"layers.0.size\" = [5]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pcs, err := s.Configs(); err != nil || pcs[0].Config.Layers[0].Size != 5 || pcs[0].Config.Name != "yin_yang_H30_WA" {
		t.Fatalf("built-in base: %v", err)
	}
}

func TestPointName(t *testing.T) {
	for _, c := range []struct {
		ovs  []Override
		want string
	}{
		{[]Override{{"a.b", "x y/z"}}, "a.b=x_y_z"},
		{[]Override{{"t", []any{0.5, int64(1)}}, {"u", true}}, "t=0.5_1,u=true"},
		{[]Override{{"k", strings.Repeat("v", 300)}}, ""},
	} {
		got := pointName(c.ovs)
		if c.want == "" {
			if len(got) != maxNameLen {
				t.Errorf("long name has %d bytes, want %d", len(got), maxNameLen)
			}
			continue
		}
		if got != c.want {
			t.Errorf("pointName(%v) = %q, want %q", c.ovs, got, c.want)
		}
	}
}

// TestExampleSweep: the example sweep file parses and expands.
func TestExampleSweep(t *testing.T) {
	s, err := ParseFile(filepath.Join("..", "sweeps", "yin_yang_hidden.toml"))
	if err != nil {
		t.Fatal(err)
	}
	pcs, err := s.Configs()
	if err != nil || len(pcs) != 16 || len(s.Seeds) != 20 {
		t.Fatalf("example sweep: %d points, %d seeds, %v; want 16 and 20", len(pcs), len(s.Seeds), err)
	}
}

// A hardware-aware sweep with a grid point whose network does not fit on
// one chip is refused before anything is written or trained, naming the
// point and the limit; without that point it is prepared.
func TestPrepareChipFit(t *testing.T) {
	for _, c := range []struct {
		sizes, want string
	}{
		{"[30, 300]", "300 spike sources"},
		{"[30, 60]", ""},
	} {
		p := writeSweep(t, "base = \"yin_yang_hwaware_W\"\nseeds = \"1\"\n[grid]\n\"layers.0.size\" = "+c.sizes+"\n")
		s, err := ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "out")
		_, err = Prepare(dir, s, false)
		if c.want == "" {
			if err != nil {
				t.Fatalf("%s: %v", c.sizes, err)
			}
			continue
		}
		var ie InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "grid point layers.0.size=300") || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v", c.sizes, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("the refused sweep wrote %s (%v)", dir, err)
		}
	}
}
