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

// checkExportDir decides whether export may write the network directory
// out for the run in runDir: out must not exist or be empty, or, with
// force, hold only what an export writes (network.json and .npy files),
// and it must be neither the run directory nor a directory above it.
func checkExportDir(out, runDir string, force bool) error {
	ao, err := filepath.Abs(out)
	if err != nil {
		return usageError{fmt.Errorf("export: -out: %w", err)}
	}
	ar, err := filepath.Abs(runDir)
	if err != nil {
		return usageError{fmt.Errorf("export: -run: %w", err)}
	}
	if rel, err := filepath.Rel(ao, ar); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return usageError{fmt.Errorf("export: -out %s holds the run %s itself: choose a directory outside it", out, runDir)}
	}
	st, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return usageError{fmt.Errorf("export: -out: %w", err)}
	}
	if !st.IsDir() {
		return usageError{fmt.Errorf("export: -out %s is a file: choose a directory", out)}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return usageError{fmt.Errorf("export: -out: %w", err)}
	}
	if len(entries) == 0 {
		return nil
	}
	if !force {
		return usageError{fmt.Errorf("export: %s is not empty: choose another -out, or pass -force to replace it whole", out)}
	}
	var foreign []string
	for _, e := range entries {
		n := e.Name()
		if n != "network.json" && (e.IsDir() || filepath.Ext(n) != ".npy") {
			foreign = append(foreign, n)
		}
	}
	if len(foreign) > 0 {
		return usageError{fmt.Errorf("export: -force replaces only a network directory (network.json and .npy files), and %s also holds %s: choose another -out",
			out, strings.Join(foreign, ", "))}
	}
	return nil
}

// replaceDir makes dst a directory that fill writes whole: fill writes
// into a new temporary sibling of dst, which then takes dst's place (an
// old dst is moved aside first, then removed). If fill fails, dst is left
// as it was and the temporary directory is removed: a reader never sees a
// half-written or mixed directory.
func replaceDir(dst string, fill func(dir string) error) error {
	if err := replaceDirFill(dst, fill); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	return nil
}

func replaceDirFill(dst string, fill func(dir string) error) (err error) {
	parent, base := filepath.Dir(dst), filepath.Base(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		return err
	}
	if _, serr := os.Lstat(dst); serr != nil {
		return os.Rename(tmp, dst)
	}
	aside, err := os.MkdirTemp(parent, "."+base+".old-")
	if err != nil {
		return err
	}
	old := filepath.Join(aside, base)
	if err := os.Rename(dst, old); err != nil {
		os.Remove(aside)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if rerr := os.Rename(old, dst); rerr != nil {
			return fmt.Errorf("%w (and the old %s could not be put back from %s: %v)", err, dst, old, rerr)
		}
		os.Remove(aside)
		return err
	}
	return os.RemoveAll(aside)
}
