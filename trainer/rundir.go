package trainer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// runEntries lists what a run and the commands working on it write into
// its directory; NewRun with force removes these and nothing else.
var runEntries = []string{ConfigFile, MetricsFile, CheckpointFile, SummaryFile, InitFile,
	NetworkDir, BestNetworkDir, PlotsDir, RobustnessDir, CandidatesDir, SelectFile}

// ownedByRun reports whether a run directory's entry name is one a run
// writes, or a temporary file of an atomic write of one.
func ownedByRun(name string) bool {
	for _, e := range runEntries {
		if name == e || strings.HasPrefix(name, "."+e+".tmp-") {
			return true
		}
	}
	return false
}

// checkRunDir decides whether a new run may be created in dir: a directory
// that does not exist or is empty is fine; one that holds a run is fine
// with force (old is then true: the old run's files are to be removed),
// unless it also holds files no run writes; anything else is refused.
func checkRunDir(dir string, force bool) (old bool, err error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, InputError{fmt.Errorf("run directory: %w", err)}
	}
	if !st.IsDir() {
		return false, InputError{fmt.Errorf("run directory %s is a file: choose another -out", dir)}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, InputError{fmt.Errorf("run directory: %w", err)}
	}
	if len(entries) == 0 {
		return false, nil
	}
	names := make(map[string]bool, len(entries))
	var foreign []string
	for _, e := range entries {
		names[e.Name()] = true
		if !ownedByRun(e.Name()) {
			foreign = append(foreign, e.Name())
		}
	}
	if !names[ConfigFile] && !names[CheckpointFile] {
		return false, InputError{fmt.Errorf("%s is not empty and holds no run (no %s): choose a new or empty -out", dir, ConfigFile)}
	}
	if !force {
		return false, InputError{fmt.Errorf("%s: %w: choose another -out or pass -force to overwrite it", dir, ErrRunExists)}
	}
	if len(foreign) > 0 {
		return false, InputError{fmt.Errorf("%s: -force replaces only a run directory, and this one also holds %s, which no run writes: move them away or choose another -out",
			dir, strings.Join(foreign, ", "))}
	}
	return true, nil
}

// clearRunDir removes the entries of dir that a run owns (see ownedByRun).
func clearRunDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("remove old run: %w", err)
	}
	for _, e := range entries {
		if ownedByRun(e.Name()) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove old run: %w", err)
			}
		}
	}
	return nil
}

// hasHistory reports whether dir holds results of trained epochs
// (metrics.csv or summary.json), naming the first one found.
func hasHistory(dir string) (string, bool) {
	for _, f := range []string{MetricsFile, SummaryFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return f, true
		}
	}
	return "", false
}
