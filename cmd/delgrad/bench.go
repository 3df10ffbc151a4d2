package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bench"
	"github.com/delgrad-go/delgrad/internal/atomicfile"
)

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlags("bench", stdout)
	quick := fl.Bool("quick", false, "a one-minute smoke run: two cases, three batch sizes, short repeats")
	out := fl.String("out", "", "report directory (default bench/results/DATE-HOST)")
	casesRe := fl.String("cases", "", "only cases whose name matches this regular expression (see -list)")
	list := fl.Bool("list", false, "list the cases and exit")
	batches := fl.String("batches", "", "comma-separated batch sizes (default 1,16,150,1024,4096,16384,65536)")
	modes := fl.String("modes", "", "comma-separated modes: forward, fwdbwd, train (default all)")
	population := fl.String("population", "", fmt.Sprintf("comma-separated population sizes K in 1..%d: also measure K networks, each on its own batch, in one population pass (aggregate samples/s); default 1, single networks only", bench.MaxPopulation))
	device := deviceFlag(fl, "cpu (one core and all cores), gpu, auto or all (cpu and gpu)")
	repeats := fl.Int("repeats", 5, "timed repeats per measurement (after one warm-up)")
	minTime := fl.Duration("min-time", 300*time.Millisecond, "least duration of one repeat")
	maxStep := fl.Duration("max-step", 10*time.Second, "skip batch sizes whose single step would take longer")
	reference := fl.String("reference", "", "command that times the reference implementation, split at spaces (no quoting): run as CMD -case NAME -mode MODE -batch B, it prints samples_per_second: X (e.g. \"python3 scripts/reference-bench.py --src REF/src\")")
	readme := fl.String("readme", "", "update this README's benchmark section from the report directories given as arguments, and exit")
	quiet := quietFlag(fl)
	if err := fl.parse(args); err != nil {
		return err
	}
	if *readme != "" {
		return benchReadme(*readme, fl.Args(), stdout)
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("bench: unexpected arguments %v", fl.Args())}
	}
	cases := bench.Cases()
	if *list {
		for _, c := range cases {
			fmt.Fprintln(stdout, c.Name)
		}
		return nil
	}
	opt := bench.Options{Batches: []int{1, 16, 150, 1024, 4096, 16384, 65536}, Modes: bench.Modes,
		Repeats: *repeats, MinTime: *minTime, MaxStep: *maxStep}
	if *quick {
		opt.Batches = []int{1, 150, 4096}
		opt.Repeats, opt.MinTime, opt.MaxStep = 3, 50*time.Millisecond, time.Second
		var qc []bench.Case
		for _, c := range cases {
			if c.Name == "yinyang-4-30-3-axonal-tau2" || c.Name == "mnist16-256-128-10" {
				qc = append(qc, c)
			}
		}
		cases = qc
	}
	if *casesRe != "" {
		re, err := regexp.Compile(*casesRe)
		if err != nil {
			return usageError{fmt.Errorf("bench: -cases: %w", err)}
		}
		var sel []bench.Case
		for _, c := range cases {
			if re.MatchString(c.Name) {
				sel = append(sel, c)
			}
		}
		if len(sel) == 0 {
			return usageError{fmt.Errorf("bench: -cases %q matches no case (see delgrad bench -list)", *casesRe)}
		}
		cases = sel
	}
	opt.Cases = cases
	if *batches != "" {
		opt.Batches = nil
		for _, f := range strings.Split(*batches, ",") {
			b, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || b < 1 {
				return usageError{fmt.Errorf("bench: -batches: %q is not a batch size >= 1", f)}
			}
			opt.Batches = append(opt.Batches, b)
		}
	}
	if *population != "" {
		ks, err := parsePopulations(*population)
		if err != nil {
			return usageError{err}
		}
		opt.Populations = ks
	}
	if *modes != "" {
		opt.Modes = nil
		for _, f := range strings.Split(*modes, ",") {
			switch strings.TrimSpace(f) {
			case "forward":
				opt.Modes = append(opt.Modes, bench.Forward)
			case "fwdbwd":
				opt.Modes = append(opt.Modes, bench.FwdBwd)
			case "train":
				opt.Modes = append(opt.Modes, bench.TrainStp)
			default:
				return usageError{fmt.Errorf("bench: -modes: %q: must be forward, fwdbwd or train", f)}
			}
		}
	}
	if *repeats < 1 || *minTime <= 0 || *maxStep <= 0 {
		return usageError{errors.New("bench: -repeats, -min-time and -max-step must be positive")}
	}
	m := bench.Host()
	m.Command = "delgrad bench " + strings.Join(args, " ")
	n := runtime.NumCPU()
	cpu := []bench.Engine{
		{Name: "cpu-1core", New: func() (batch.Engine, error) { return batch.NewCPU(1), nil }},
		{Name: fmt.Sprintf("cpu-%dcores", n), New: func() (batch.Engine, error) { return batch.NewCPU(n), nil }},
	}
	gpu := func() (bench.Engine, error) {
		if err := gpuAvailable(); err != nil {
			return bench.Engine{}, usageError{fmt.Errorf("bench: -device %s: %w", *device, err)}
		}
		eng, name, err := newGPU()
		if err != nil {
			return bench.Engine{}, fmt.Errorf("bench: %w", err)
		}
		m.GPU = name
		return bench.Engine{Name: "gpu", GPU: true, New: func() (batch.Engine, error) { return eng, nil }}, nil
	}
	switch *device {
	case "cpu":
		opt.Engines = cpu
	case "auto":
		opt.Engines = cpu
		if gpuAvailable() == nil {
			g, err := gpu()
			if err != nil {
				return err
			}
			opt.Engines = []bench.Engine{g}
		}
	case "gpu", "all":
		g, err := gpu()
		if err != nil {
			return err
		}
		if *device == "all" {
			opt.Engines = append(opt.Engines, cpu...)
		}
		opt.Engines = append(opt.Engines, g)
	default:
		return usageError{fmt.Errorf("bench: -device %q: must be cpu, gpu, auto or all", *device)}
	}
	if *reference != "" {
		cmd := strings.Fields(*reference)
		if len(cmd) == 0 {
			return usageError{errors.New("bench: -reference: give a command")}
		}
		opt.Reference = func(c bench.Case, md bench.Mode, b int) (float64, error) { return runReference(ctx, cmd, c, md, b) }
	}
	dir := *out
	if dir == "" {
		host, _ := os.Hostname()
		dir = filepath.Join("bench", "results", m.Date+"-"+host)
	}
	if err := checkOutDir("bench: -out", dir); err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	if !*quiet && isTerminal(stderr) {
		total := len(opt.Cases) * len(opt.Modes) * len(opt.Engines) * len(opt.Batches) * max(len(opt.Populations), 1)
		bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr), progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond))
		opt.Progress = func(done, total int, what string) {
			bar.Describe(what)
			_ = bar.Set(done)
		}
	}
	start := time.Now()
	rs, err := bench.RunContext(ctx, opt)
	if bar != nil {
		_ = bar.Finish()
	}
	if ctx.Err() != nil {
		// Stopped between measurements, or a reference command killed by
		// the interrupt: a partial report would pass for a whole one.
		return fmt.Errorf("%w after %d measurements: nothing written to %s; run the command again to redo it", errInterrupted, len(rs), dir)
	}
	if err != nil {
		return err
	}
	if err := bench.Write(dir, m, rs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d measurements in %v; report in %s/report.md\n", len(rs), time.Since(start).Round(time.Second), dir)
	return nil
}

// parsePopulations parses -population: comma-separated population sizes
// in 1..bench.MaxPopulation, each at most once.
func parsePopulations(list string) ([]int, error) {
	var ks []int
	for _, f := range strings.Split(list, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 || k > bench.MaxPopulation {
			return nil, fmt.Errorf("bench: -population: %q is not a population size in 1..%d", f, bench.MaxPopulation)
		}
		if slices.Contains(ks, k) {
			return nil, fmt.Errorf("bench: -population: %d is given twice", k)
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// runReference times one case through the user's reference command. Its
// errors name the command's program (the whole command is in the report's
// command line), how it failed and the last line of its standard error,
// so that they fit in a row of the report.
func runReference(ctx context.Context, cmd []string, c bench.Case, m bench.Mode, b int) (float64, error) {
	mode := map[bench.Mode]string{bench.Forward: "forward", bench.FwdBwd: "fwdbwd", bench.TrainStp: "train"}[m]
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	args := append(append([]string{}, cmd[1:]...), "-case", c.Name, "-mode", mode, "-batch", strconv.Itoa(b))
	var outb, errb bytes.Buffer
	x := exec.CommandContext(ctx, cmd[0], args...)
	x.Stdout, x.Stderr = &outb, &errb
	if err := x.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = strings.TrimSpace(msg[i+1:])
		}
		if msg != "" {
			return 0, fmt.Errorf("%s: %w: %s", cmd[0], err, msg)
		}
		return 0, fmt.Errorf("%s: %w", cmd[0], err)
	}
	for _, line := range strings.Split(outb.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "samples_per_second:"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("%s printed %q: want samples_per_second: NUMBER", cmd[0], line)
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("%s printed no line samples_per_second: X", cmd[0])
}

// benchReadme replaces the benchmark section of the README at path with
// the tables of the report directories dirs.
func benchReadme(path string, dirs []string, stdout io.Writer) error {
	if len(dirs) == 0 {
		return usageError{errors.New("bench -readme README.md DIR...: give the report directories")}
	}
	sec, err := bench.ReadmeSection(dirs)
	if err != nil {
		return usageError{err}
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return usageError{fmt.Errorf("bench -readme: %w", err)}
	}
	text, err := bench.ReplaceSection(string(old), sec)
	if err != nil {
		return usageError{err}
	}
	if err := atomicfile.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("bench -readme: %w", err)
	}
	fmt.Fprintf(stdout, "updated %s from %s\n", path, strings.Join(dirs, ", "))
	return nil
}
