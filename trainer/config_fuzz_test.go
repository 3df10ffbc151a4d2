package trainer

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/configs"
)

// FuzzParse checks that no text makes the config parser panic, that it
// returns either an error or a configuration that validates, and that a
// valid configuration survives Encode and Parse again (the run directory's
// config.toml is written and read back that way).
func FuzzParse(f *testing.F) {
	for _, name := range configs.Names() {
		r, err := configs.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		raw, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(raw))
	}
	f.Add("[[layers]]\nsize = 3\n")
	f.Add("name = \"x\n")
	f.Add("[[layers]]\nsize = 3\n[layers.delay]\nkind = \"axonal\"\npresyn_sharing = 3\n")
	f.Add("[data]\nname = \"npy\"\ntrain_samples = \"a\"\n[[layers]]\nsize = -1\n")
	f.Add("[[layers]]\nsize = 2\n[bss2]\n[training]\nlearning_rate = nan\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse returned a config that does not validate: %v", err)
		}
		var buf bytes.Buffer
		if err := c.Encode(&buf); err != nil {
			t.Fatalf("Encode of a valid config: %v", err)
		}
		if _, err := Parse(&buf); err != nil {
			t.Fatalf("the encoded valid config does not parse: %v\n%s", err, buf.String())
		}
	})
}
