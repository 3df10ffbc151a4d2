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
