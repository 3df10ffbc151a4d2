package trainer

import (
	"github.com/delgrad-go/delgrad/bss2model"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/configs"
)

func TestBuiltinConfigsParse(t *testing.T) {
	names := configs.Names()
	if len(names) < 7 {
		t.Fatalf("only %d built-in configs: %v", len(names), names)
	}
	for _, n := range names {
		f, err := configs.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if c.Name != n {
			t.Errorf("%s: name = %q", n, c.Name)
		}
	}
}

func TestParseLayersKeepDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader(`
[[layers]]
size = 7
[layers.delay]
kind = "axonal"
[[layers]]
size = 3
weights_mean = 0.5
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Layers) != 2 || c.Layers[0].Size != 7 || c.Layers[1].WeightsMean != 0.5 {
		t.Fatalf("layers %+v", c.Layers)
	}
	l0 := c.Layers[0]
	if l0.WeightsStd != 1 || l0.Delay.Positivity != "sigmoid" || l0.Delay.SigmoidScale != 1 || l0.Delay.PresynSharing != 1 {
		t.Errorf("layer defaults lost: %+v", l0)
	}
	if c.Layers[1].Delay.Kind != "none" {
		t.Errorf("second layer delay kind %q, want none", c.Layers[1].Delay.Kind)
	}
	if c.Training.BatchSize != 150 || *c.Neuron.TauMem != 2 {
		t.Errorf("global defaults lost: %+v", c.Training)
	}
}

func TestParseRoundTrip(t *testing.T) {
	f, err := configs.Open("yin_yang_H30_WS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := c.Encode(&sb); err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(strings.NewReader(sb.String()))
	if err != nil {
		t.Fatalf("re-parse of the encoded config: %v\n%s", err, sb.String())
	}
	var sb2 strings.Builder
	c2.Encode(&sb2)
	if sb.String() != sb2.String() {
		t.Errorf("encode/parse is not a round trip:\n%s\n---\n%s", sb.String(), sb2.String())
	}
}

// A [bss2] section switches hardware-aware training on; the keys it
// leaves out keep bss2model's defaults.
func TestParseBSS2(t *testing.T) {
	const layer = "[[layers]]\nsize = 3\n"
	c, err := Parse(strings.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	if c.BSS2 != nil {
		t.Fatal("no [bss2] section, but a chip model")
	}
	c, err = Parse(strings.NewReader(layer + "[training]\nclip_weights = 2.1\n[bss2]\nthreshold_noise = 0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := bss2model.Defaults()
	want.ThresholdNoise = 0.1
	if c.BSS2 == nil || *c.BSS2 != want {
		t.Fatalf("[bss2] parsed as %+v, want %+v", c.BSS2, want)
	}
	var sb strings.Builder
	if err := c.Encode(&sb); err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(strings.NewReader(sb.String()))
	if err != nil || c2.BSS2 == nil || *c2.BSS2 != want {
		t.Fatalf("[bss2] lost in the encoded config (%v):\n%s", err, sb.String())
	}
}

func TestParseErrors(t *testing.T) {
	const layer = "[[layers]]\nsize = 3\n"
	cases := []struct {
		name, toml, want string
	}{
		{"malformed", "name = \"x\n", "line 1"},
		{"unknown top key", "nmae = \"x\"\n" + layer, "unknown key nmae"},
		{"unknown nested key", layer + "learning_rat = 0.1\n", "unknown key layers.learning_rat"},
		{"unknown training key", layer + "[training]\nepoch = 3\n", "unknown key training.epoch"},
		{"wrong type", layer + "[training]\nepochs = \"many\"\n", "epochs"},
		{"negative lr", layer + "[training]\nlearning_rate = -0.1\n", "training.learning_rate = -0.1: must be >= 0"},
		{"negative layer lr", "[[layers]]\nsize = 3\nlearning_rate = -1.0\n", "layers[0].learning_rate"},
		{"no layers", "", "no [[layers]]"},
		{"zero size", "[[layers]]\nsize = 0\n", "layers[0].size = 0"},
		{"bad dataset", layer + "[data]\nname = \"cifar\"\n", `data.name = "cifar": must be one of yin_yang, mnist16, mnist, npy`},
		{"bad delay kind", "[[layers]]\nsize = 3\n[layers.delay]\nkind = \"axonic\"\n", "layers[0].delay.kind"},
		{"bad optimizer", layer + "[training]\noptimizer = \"rmsprop\"\n", "training.optimizer"},
		{"bad loss", layer + "[training.loss]\ntype = \"mse\"\n", "training.loss.type"},
		{"beta1 out of range", layer + "[training]\nbeta1 = 1.0\n", "training.beta1"},
		{"max_missing > 1", "[[layers]]\nsize = 3\nmax_missing = 1.5\n", "layers[0].max_missing"},
		{"negative tau", layer + "[neuron]\ntau_syn = -1.0\n", "neuron.tau_syn"},
		{"npy without files", layer + "[data]\nname = \"npy\"\n", "data.train_samples"},
		{"zero batch", layer + "[training]\nbatch_size = 0\n", "training.batch_size"},
		{"nan", layer + "[training]\nnoise_std = nan\n", "training.noise_std"},
		{"tau ratio", layer + "[neuron]\ntau_mem = 3.0\n", "set neuron.tau_mem"},
		{"layer tau ratio", "[[layers]]\nsize = 3\n[layers.neuron]\ntau_mem = 1.5\n", "layers[0]: tau_mem / tau_syn = 1.5"},
		{"threshold below leak", layer + "[neuron]\nleak = 2.0\n", "threshold 1 must be above leak 2"},
		{"bad schedule", layer + "[training.schedule]\ntype = \"linear\"\n", "must be one of none, step, cosine"},
		{"cosine without epochs", layer + "[training.schedule]\ntype = \"cosine\"\n", "schedule.cosine_epochs = 0: must be >= 1"},
		{"cosine min factor", layer + "[training.schedule]\ntype = \"cosine\"\ncosine_epochs = 10\nmin_factor = 1.5\n", "schedule.min_factor = 1.5"},
		{"negative grad clip", layer + "[training]\ngrad_clip = -1.0\n", "training.grad_clip = -1: must be >= 0"},
		{"nan grad clip", layer + "[training]\ngrad_clip = nan\n", "training.grad_clip = NaN: must be a finite number"},
		{"negative warm-up", layer + "[training.schedule]\nwarmup_epochs = -1\n", "schedule.warmup_epochs = -1"},
		{"bss2 unknown key", layer + "[bss2]\nthreshold_nosie = 0.1\n", "unknown key bss2.threshold_nosie"},
		{"bss2 negative noise", layer + "[bss2]\nthreshold_noise = -0.1\n", "bss2.threshold_noise = -0.1"},
		{"bss2 train chip", layer + "[bss2]\ntrain_chip = \"each\"\n", "bss2.train_chip"},
		{"bss2 eps", layer + "[training]\neps = 1e-6\n[bss2]\n", "has no eps term"},
		{"bss2 synaptic", "[[layers]]\nsize = 3\n[layers.delay]\nkind = \"synaptic\"\n[bss2]\n", "use axonal or dendritic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.toml))
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// A hardware-aware config whose weights or delays the chip cannot realise,
// or whose network does not fit on one chip, is refused before training,
// naming the limit.
func TestChipLimits(t *testing.T) {
	const hw = "[bss2]\n"
	const axonal = "[[layers]]\nsize = 30\n[layers.delay]\nkind = \"axonal\"\nsigmoid_shift = 2.0\nsigmoid_scale = 1.5\n" +
		"[[layers]]\nsize = 3\n"
	cases := []struct {
		name, toml, want string
	}{
		{"no clip", axonal + hw, "training.clip_weights = 0: the chip realises weights up to +-2.1"},
		{"clip too wide", axonal + "[training]\nclip_weights = 3.0\n" + hw, "set training.clip_weights to a value in (0, 2.1]"},
		{"delay positivity", "[[layers]]\nsize = 30\n[layers.delay]\nkind = \"dendritic\"\npositivity = \"clip\"\n[[layers]]\nsize = 3\n" +
			"[training]\nclip_weights = 2.1\n" + hw, "layers[0].delay.positivity = \"clip\": the chip's delay neurons realise delays in [1.375, 5.542]"},
		{"delays too short", "[[layers]]\nsize = 30\n[layers.delay]\nkind = \"axonal\"\nsigmoid_shift = 0.5\n[[layers]]\nsize = 3\n" +
			"[training]\nclip_weights = 2.1\n" + hw, "sigmoid delays span [0.5, 1.5] tau_syn, outside the [1.375, 5.542]"},
		{"delays too long", "[[layers]]\nsize = 30\n[[layers]]\nsize = 3\n[layers.delay]\nkind = \"axonal\"\nsigmoid_shift = 2.0\nsigmoid_scale = 4.0\n" +
			"[training]\nclip_weights = 2.1\n" + hw, "layers[1].delay: sigmoid delays span [2, 6] tau_syn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.toml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	// The same configs without [bss2] are fine, and so is the chip's range.
	for _, ok := range []string{axonal, axonal + "[training]\nclip_weights = 2.1\n" + hw} {
		if _, err := Parse(strings.NewReader(ok)); err != nil {
			t.Fatalf("refused: %v\n%s", err, ok)
		}
	}
	// A network whose output neurons receive more inputs than two circuits'
	// synapse rows hold is refused by NewTrainer, before any training,
	// naming the limit.
	c := tinyConfig(8, "none")
	c.Layers[0].Size = 600
	c = onChip(c, bss2model.Defaults())
	if _, err := NewTrainer(c, tinyData(), batch.NewCPU(1)); err == nil || !strings.Contains(err.Error(), "layer 1: each neuron receives 600 spike sources") {
		t.Fatalf("a 600-neuron layer on one chip: %v", err)
	}
}
