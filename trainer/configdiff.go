package trainer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// ConfigChange is one setting whose value differs between two
// configurations: the one a checkpoint was trained with and the one in a
// run's config.toml.
type ConfigChange struct {
	// Key is the dotted TOML key, e.g. training.learning_rate or
	// layers[1].size.
	Key string
	// Old and New are the values as TOML writes them, or "(unset)".
	Old, New string
}

func (c ConfigChange) String() string { return fmt.Sprintf("%s: %s -> %s", c.Key, c.Old, c.New) }

// ConfigChangedError reports that a run's config.toml no longer holds the
// settings its checkpoint was trained with.
type ConfigChangedError struct {
	// Dir is the run directory and Epoch the checkpoint's epoch.
	Dir   string
	Epoch int
	// Changes lists the differences, sorted by key.
	Changes []ConfigChange
}

func (e *ConfigChangedError) Error() string {
	return fmt.Sprintf("%s: %s differs from the settings %s (epoch %d) was trained with: %s "+
		"(undo the edit, or delgrad resume -force applies it)",
		e.Dir, ConfigFile, CheckpointFile, e.Epoch, FormatChanges(e.Changes))
}

// FormatChanges lists changes on one line, separated by semicolons.
func FormatChanges(changes []ConfigChange) string {
	s := make([]string, len(changes))
	for i, c := range changes {
		s[i] = c.String()
	}
	return strings.Join(s, "; ")
}

// unchecked lists the keys a run may change between checkpoints:
// training.epochs is the run's length, which resume -epochs extends.
var unchecked = map[string]bool{"training.epochs": true}

// diffConfigs compares the configuration a checkpoint recorded (its TOML
// encoding; empty in checkpoints written before configurations were
// recorded, which compare equal to anything) with cur. The recorded text
// is read as Parse reads a config, so a key it lacks counts as its
// default.
func diffConfigs(old string, cur Config) ([]ConfigChange, error) {
	if old == "" {
		return nil, nil
	}
	var sb strings.Builder
	if err := cur.Encode(&sb); err != nil {
		return nil, err
	}
	// Keys added since the checkpoint was written (a new [bss2] term)
	// take their defaults when the old text is parsed: compare that, not
	// the text, so that they are no change.
	if oc, err := Parse(strings.NewReader(old)); err == nil {
		var ob strings.Builder
		if err := oc.Encode(&ob); err == nil {
			old = ob.String()
		}
	}
	a, err := flatTOML(old)
	if err != nil {
		return nil, fmt.Errorf("the checkpoint's configuration: %w", err)
	}
	b, err := flatTOML(sb.String())
	if err != nil {
		return nil, err
	}
	var changes []ConfigChange
	for k, va := range a {
		if vb, ok := b[k]; (!ok || vb != va) && !unchecked[k] {
			if !ok {
				vb = "(unset)"
			}
			changes = append(changes, ConfigChange{Key: k, Old: va, New: vb})
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok && !unchecked[k] {
			changes = append(changes, ConfigChange{Key: k, Old: "(unset)", New: vb})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key < changes[j].Key })
	return changes, nil
}

// flatTOML decodes a TOML document into its leaf keys (dotted, with
// [i] for the entries of arrays of tables) and their values.
func flatTOML(doc string) (map[string]string, error) {
	var m map[string]any
	if _, err := toml.Decode(doc, &m); err != nil {
		return nil, err
	}
	out := map[string]string{}
	flatten("", m, out)
	return out, nil
}

func flatten(prefix string, v any, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(join(k), e, out)
		}
	case []map[string]any:
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	case string:
		out[prefix] = fmt.Sprintf("%q", x)
	default:
		out[prefix] = fmt.Sprint(x)
	}
}
