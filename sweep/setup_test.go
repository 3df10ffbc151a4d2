package sweep

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A sweep whose point.toml files an older delgrad wrote (without the
// config keys added since, which read as their defaults) continues; one
// whose point config was really edited is refused, naming the line.
func TestPrepareOlderPointConfig(t *testing.T) {
	dir, spec, p := prepareSpec(t, slotSweep)
	pt := filepath.Join(dir, p.Tasks[0].Point, PointConfigFile)
	cur, err := os.ReadFile(pt)
	if err != nil {
		t.Fatal(err)
	}
	// Drop a key that defaults to what the point has, as a config written
	// before the key existed lacks it.
	var lines [][]byte
	for _, l := range bytes.Split(cur, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("grad_clip = ")) {
			lines = append(lines, l)
		}
	}
	older := bytes.Join(lines, []byte("\n"))
	if bytes.Equal(older, cur) {
		t.Fatal("the point config has no grad_clip line to drop")
	}
	if err := os.WriteFile(pt, older, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(dir, spec, false); err != nil {
		t.Fatalf("a point config without a key added since: %v", err)
	}
	if got, _ := os.ReadFile(pt); !bytes.Equal(got, cur) {
		t.Fatal("the point config was not rewritten in the current form")
	}
	edited := bytes.Replace(cur, []byte("grad_clip = 0.0"), []byte("grad_clip = 0.5"), 1)
	if err := os.WriteFile(pt, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Prepare(dir, spec, false)
	if err == nil || !strings.Contains(err.Error(), `"grad_clip = 0.5" there`) {
		t.Fatalf("an edited point config: %v, want a refusal naming the line", err)
	}
}
