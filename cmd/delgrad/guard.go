package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// setFlags returns the names of the flags given on fl's command line, so
// that an explicit value (-epochs 0) can be told from the default.
func setFlags(fl *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// refuseWith returns a usage error naming the flags of others given
// together with flag name, which ignores them; nil when none is given.
// why says what name does instead.
func refuseWith(cmd string, set map[string]bool, name string, others []string, why string) error {
	var bad []string
	for _, o := range others {
		if set[o] {
			bad = append(bad, "-"+o)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return usageError{fmt.Errorf("%s: %s cannot be used with -%s: %s", cmd, strings.Join(bad, ", "), name, why)}
}

// newRunDir creates a new directory parent/base, or parent/base-2, -3, ...
// when that is taken. os.Mkdir makes the choice atomic: two runs started
// in the same second (the default name's resolution) get different
// directories.
func newRunDir(parent, base string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("run directory: %w", err)
	}
	for i := 1; i <= 1000; i++ {
		d := filepath.Join(parent, base)
		if i > 1 {
			d += fmt.Sprintf("-%d", i)
		}
		err := os.Mkdir(d, 0o755)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("run directory: %w", err)
		}
	}
	return "", fmt.Errorf("run directory: %s and 999 numbered variants exist already: give -out", filepath.Join(parent, base))
}
