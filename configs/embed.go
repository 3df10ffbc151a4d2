// Package configs embeds the project's training configurations, so that
// `delgrad train -config NAME` works from any directory and in a binary
// without the source tree.
package configs

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.toml
var files embed.FS

// Open returns the embedded configuration NAME (with or without .toml).
func Open(name string) (fs.File, error) {
	return files.Open(strings.TrimSuffix(name, ".toml") + ".toml")
}

// Names lists the embedded configurations, without the .toml suffix.
func Names() []string {
	ents, _ := files.ReadDir(".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".toml"))
	}
	sort.Strings(out)
	return out
}
