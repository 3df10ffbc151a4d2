package trainer

import (
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/bss2model"
)

func TestDiffConfigs(t *testing.T) {
	old := tinyConfig(8, "axonal")
	var sb strings.Builder
	if err := old.Encode(&sb); err != nil {
		t.Fatal(err)
	}
	cur := old
	cur.Layers = append([]LayerConfig(nil), old.Layers...)
	cur.Training.Epochs = 40 // the run's length: not a change
	if ch, err := diffConfigs(sb.String(), cur); err != nil || len(ch) != 0 {
		t.Fatalf("same settings: %v, %v", ch, err)
	}
	cur.Training.LearningRate = 0.01
	cur.Layers[1].Size = 4
	p := bss2model.Defaults()
	cur.BSS2 = &p
	ch, err := diffConfigs(sb.String(), cur)
	if err != nil {
		t.Fatal(err)
	}
	got := FormatChanges(ch)
	for _, want := range []string{"layers[1].size: 3 -> 4", "training.learning_rate: 0.005 -> 0.01", "bss2.", "(unset) -> "} {
		if !strings.Contains(got, want) {
			t.Errorf("changes %q lack %q", got, want)
		}
	}
	if ch, _ := diffConfigs("", cur); ch != nil {
		t.Errorf("a checkpoint without a recorded config compared unequal: %v", ch)
	}
}

// A checkpoint written before a [bss2] key existed (here the placement
// keys) compares equal to the same config now, where the key has its
// default; a real change next to it is still found.
func TestDiffConfigsNewKeys(t *testing.T) {
	c := onChip(tinyConfig(8, "axonal"), bss2model.Defaults())
	var sb strings.Builder
	if err := c.Encode(&sb); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(sb.String(), "\n") {
		if !strings.Contains(l, "circuits") && !strings.Contains(l, "synapse_rows") {
			lines = append(lines, l)
		}
	}
	old := strings.Join(lines, "\n")
	if old == sb.String() {
		t.Fatal("the encoded config has no placement keys to drop")
	}
	if ch, err := diffConfigs(old, c); err != nil || len(ch) != 0 {
		t.Fatalf("a config that lacks keys added since: %v, %v", FormatChanges(ch), err)
	}
	c.Training.LearningRate = 0.02
	if ch, err := diffConfigs(old, c); err != nil || FormatChanges(ch) != "training.learning_rate: 0.005 -> 0.02" {
		t.Fatalf("a real change: %v, %v", FormatChanges(ch), err)
	}
}
