package main

import (
	"flag"
	"fmt"
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
