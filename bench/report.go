package bench

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/delgrad-go/delgrad/internal/atomicfile"
	"github.com/delgrad-go/delgrad/trainer/plots"
)

// Machine heads a report.
type Machine struct {
	CPU     string `json:"cpu"`
	Cores   int    `json:"cores"`
	GPU     string `json:"gpu,omitempty"` // "" without one
	Go      string `json:"go"`
	Command string `json:"command"`
	Date    string `json:"date"`
}

// Host describes this machine (CPU model from /proc/cpuinfo, logical
// cores, Go version, today's date in UTC); the caller adds the GPU and the
// command.
func Host() Machine {
	m := Machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Go: runtime.Version(),
		Date: time.Now().UTC().Format("2006-01-02")}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// csvHeader is results.csv's header. Columns are only ever appended;
// csvOldColumns is how many the reports from before populations have
// (ReadCSV reads those with one member and no reference error).
var csvHeader = []string{"case", "mode", "engine", "gpu", "batch", "median_samples_per_s", "min_samples_per_s",
	"max_samples_per_s", "repeats", "host_peak_bytes", "device_bytes", "reference_samples_per_s", "skipped",
	"members", "reference_error"}

const csvOldColumns = 13

func f64(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// WriteCSV writes rs in the long format of results.csv.
func WriteCSV(w io.Writer, rs []Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, r := range rs {
		if err := cw.Write([]string{r.Case, string(r.Mode), r.Engine, strconv.FormatBool(r.GPU), strconv.Itoa(r.Batch),
			f64(r.Median), f64(r.Min), f64(r.Max), strconv.Itoa(r.Repeats), strconv.FormatUint(r.HostPeak, 10),
			strconv.FormatInt(r.DeviceBytes, 10), f64(r.Reference), r.Skipped,
			strconv.Itoa(r.K()), r.ReferenceErr}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads a results.csv written by WriteCSV, or by the versions
// before populations (without the members and reference_error columns:
// one member, no reference error).
func ReadCSV(r io.Reader) ([]Result, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("results csv: %w", err)
	}
	if len(rows) == 0 || !(slices.Equal(rows[0], csvHeader) || slices.Equal(rows[0], csvHeader[:csvOldColumns])) {
		return nil, fmt.Errorf("results csv: the header is not %s (or its first %d columns)", strings.Join(csvHeader, ","), csvOldColumns)
	}
	var rs []Result
	for i, row := range rows[1:] {
		r := Result{Members: 1}
		var errs [10]error
		r.Case, r.Mode, r.Engine = row[0], Mode(row[1]), row[2]
		r.GPU, errs[0] = strconv.ParseBool(row[3])
		r.Batch, errs[1] = strconv.Atoi(row[4])
		r.Median, errs[2] = strconv.ParseFloat(row[5], 64)
		r.Min, errs[3] = strconv.ParseFloat(row[6], 64)
		r.Max, errs[4] = strconv.ParseFloat(row[7], 64)
		r.Repeats, errs[5] = strconv.Atoi(row[8])
		r.HostPeak, errs[6] = strconv.ParseUint(row[9], 10, 64)
		r.DeviceBytes, errs[7] = strconv.ParseInt(row[10], 10, 64)
		r.Reference, errs[8] = strconv.ParseFloat(row[11], 64)
		r.Skipped = row[12]
		if len(row) > csvOldColumns {
			r.Members, errs[9] = strconv.Atoi(row[13])
			if errs[9] == nil && (r.Members < 1 || r.Members > MaxPopulation) {
				errs[9] = fmt.Errorf("members %d: must be 1..%d", r.Members, MaxPopulation)
			}
			r.ReferenceErr = row[14]
		}
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("results csv: row %d: %w", i+2, e)
			}
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// Cost estimates the fp64 operations and device memory traffic of one
// sample of case c in mode m: per synapse about 8 flops and 40 bytes in the
// forward scan, and 30 flops and 80 bytes more in the backward phases. It
// is a model for the report's share-of-peak columns, not a measurement.
func Cost(c Case, m Mode) (flops, bytes float64) {
	in := c.Sizes[0]
	for _, o := range c.Sizes[1:] {
		syn := float64(in * o)
		flops += 8 * syn
		bytes += 40 * syn
		if m != Forward {
			flops += 30 * syn
			bytes += 80 * syn
		}
		in = o
	}
	return flops, bytes
}

// Peak returns a GPU's fp64 vector rate (TFLOP/s) and memory bandwidth
// (TB/s) from its data sheet, by name; ok is false for an unknown GPU.
func Peak(gpu string) (tflops, tbps float64, ok bool) {
	switch {
	case strings.Contains(gpu, "H200"):
		return 34, 4.8, true
	case strings.Contains(gpu, "H100") && (strings.Contains(gpu, "PCIe") || strings.Contains(gpu, "PCI")):
		return 26, 2.0, true
	case strings.Contains(gpu, "H100"):
		return 34, 3.35, true
	case strings.Contains(gpu, "A100"):
		return 9.7, 2.0, true
	}
	return 0, 0, false
}

// shares formats the cost model's share of the GPU's peaks for r.
func shares(m Machine, r Result) string {
	tf, bw, ok := Peak(m.GPU)
	if !r.GPU || !ok {
		return ""
	}
	for _, c := range Cases() {
		if c.Name == r.Case {
			f, b := Cost(c, r.Mode)
			return fmt.Sprintf("%.1f%% / %.1f%%", 100*f*r.Median/(tf*1e12), 100*b*r.Median/(bw*1e12))
		}
	}
	return ""
}

// Markdown writes the report: the machine and command, then one row per
// measurement (median samples/s with the spread of the repeats, memory,
// and the ratio to the reference where it was timed), then the best
// throughput per case, mode and engine.
func Markdown(w io.Writer, m Machine, rs []Result) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# DelGrad-Go benchmark, %s\n\n", m.Date)
	fmt.Fprintf(b, "- CPU: %s, %d logical cores\n", m.CPU, m.Cores)
	if m.GPU != "" {
		fmt.Fprintf(b, "- GPU: %s\n", m.GPU)
	} else {
		fmt.Fprintf(b, "- GPU: none used\n")
	}
	fmt.Fprintf(b, "- Go: %s\n- Command: `%s`\n\n", m.Go, m.Command)
	fmt.Fprintf(b, "Samples/s are medians over the repeats (after one warm-up step); the spread is the\n")
	fmt.Fprintf(b, "slowest and fastest repeat. Host peak is the largest Go heap in use while measuring (after a\n")
	fmt.Fprintf(b, "collection; C memory not included); device memory is what the engine held for that measurement.\n")
	fmt.Fprintf(b, "A training step is the trainer's (Trainer.TrainSteps); on an engine with a device training step\n")
	fmt.Fprintf(b, "several consecutive steps are timed together, so that the parameter copies are spread as over an epoch.\n\n")
	fmt.Fprintf(b, "## Best throughput per case (median samples/s at the best batch size)\n\n")
	if hasPopulations(rs) {
		fmt.Fprintf(b, "Single networks (K = 1); the populations have their own table below.\n\n")
	}
	bestTable(b, rs)
	if hasPopulations(rs) {
		fmt.Fprintf(b, "\n## Populations (aggregate median samples/s of K networks, each on its own batch)\n\n")
		fmt.Fprintf(b, "K networks of the case, drawn with different seeds, each on its own batch of B samples, in one\n")
		fmt.Fprintf(b, "population pass (batch.ForwardPop/BackwardPop; a training step is an epoch of trainer.Population,\n")
		fmt.Fprintf(b, "its members in lockstep, a one-sample validation per member included); in parentheses the ratio\n")
		fmt.Fprintf(b, "to K = 1 of the same case, mode, engine and batch size. K = 1 is the single network's measurement.\n\n")
		popTable(b, rs)
	}
	fmt.Fprintf(b, "\n## All measurements\n\n")
	fmt.Fprintf(b, "GPU rows: the estimated share of the GPU's fp64 rate / memory bandwidth (bench.Cost's model over\n")
	fmt.Fprintf(b, "the data-sheet peaks), not a profile. The model counts every byte as device-memory traffic;\n")
	fmt.Fprintf(b, "the hardware counters (scripts/gpu-ncu.sh, bench/NOTES.md) show the working sets staying in the\n")
	fmt.Fprintf(b, "caches, so the bandwidth share overstates DRAM traffic and the kernels are bound by latency and issue.\n")
	if hasPopulations(rs) {
		fmt.Fprintf(b, "A batch of \"B (K=4)\" is a population of 4 networks on B samples each; its samples/s are the aggregate.\n")
	}
	fmt.Fprintf(b, "\n| case | mode | engine | batch | samples/s | spread | host peak MiB | device MiB | reference samples/s | ratio | GPU fp64 / bandwidth share |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rs {
		if r.Skipped != "" {
			fmt.Fprintf(b, "| %s | %s | %s | %s | skipped: %s | | | | | | |\n", r.Case, r.Mode, r.Engine, batchCell(r), cell(r.Skipped))
			continue
		}
		ref, ratio := "", ""
		if r.ReferenceErr != "" {
			ref = "failed: " + shortReason(r.ReferenceErr)
		} else if r.Reference > 0 {
			ref, ratio = fmt.Sprintf("%.1f", r.Reference), fmt.Sprintf("%.0fx", r.Median/r.Reference)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.0f | %.0f-%.0f | %s | %s | %s | %s | %s |\n", r.Case, r.Mode, r.Engine, batchCell(r),
			r.Median, r.Min, r.Max, mib(r.HostPeak), mib(uint64(r.DeviceBytes)), ref, ratio, shares(m, r))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// batchCell is a result's batch size, with the population size when it
// is one of several networks.
func batchCell(r Result) string {
	if r.K() > 1 {
		return fmt.Sprintf("%d (K=%d)", r.Batch, r.K())
	}
	return strconv.Itoa(r.Batch)
}

// cell makes s fit in one Markdown table cell: one line, pipes escaped.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", "\\|")
}

// shortReason is the start of an error message for a report cell: its
// first line, at most 120 characters.
func shortReason(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return cell(s)
}

// hasPopulations reports whether rs has a measurement of more than one
// network.
func hasPopulations(rs []Result) bool {
	return slices.ContainsFunc(rs, func(r Result) bool { return r.K() > 1 })
}

// singles returns the measurements of single networks (K = 1).
func singles(rs []Result) []Result { return filter(rs, func(r Result) bool { return r.K() == 1 }) }

// popTable writes, per case, mode, engine and batch size that has a
// population, the aggregate median samples/s at every population size
// measured, with the ratio to K = 1.
func popTable(b *strings.Builder, rs []Result) {
	var ks []int
	for _, r := range rs {
		if !slices.Contains(ks, r.K()) {
			ks = append(ks, r.K())
		}
	}
	slices.Sort(ks)
	fmt.Fprintf(b, "| case | mode | engine | batch |")
	for _, k := range ks {
		fmt.Fprintf(b, " K=%d |", k)
	}
	fmt.Fprintf(b, "\n| --- | --- | --- | --- |%s\n", strings.Repeat(" --- |", len(ks)))
	type key struct {
		c, e string
		m    Mode
		b    int
	}
	var seen []key
	for _, r := range rs {
		k := key{r.Case, r.Engine, r.Mode, r.Batch}
		if slices.Contains(seen, k) {
			continue
		}
		seen = append(seen, k)
		at := func(n int) *Result {
			for i := range rs {
				q := &rs[i]
				if q.Case == k.c && q.Engine == k.e && q.Mode == k.m && q.Batch == k.b && q.K() == n {
					return q
				}
			}
			return nil
		}
		cells := make([]string, len(ks))
		pop := false
		for i, n := range ks {
			q := at(n)
			switch {
			case q == nil:
				cells[i] = "-"
			case q.Skipped != "":
				cells[i] = "skipped"
			default:
				cells[i] = fmt.Sprintf("%.0f", q.Median)
				if one := at(1); n > 1 && one != nil && one.Skipped == "" && one.Median > 0 {
					cells[i] += fmt.Sprintf(" (%.2fx)", q.Median/one.Median)
				}
			}
			pop = pop || (n > 1 && q != nil)
		}
		if pop {
			fmt.Fprintf(b, "| %s | %s | %s | %d | %s |\n", k.c, k.m, k.e, k.b, strings.Join(cells, " | "))
		}
	}
}

func uniq(rs []Result, key func(Result) string) []string {
	var out []string
	for _, r := range rs {
		if k := key(r); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// bestOf returns the single-network measurement (K = 1) with the highest
// median of a case, mode and engine, or nil.
func bestOf(rs []Result, c string, m Mode, e string) *Result {
	var best *Result
	for i := range rs {
		r := &rs[i]
		if r.Case == c && r.Mode == m && r.Engine == e && r.K() == 1 && r.Skipped == "" && (best == nil || r.Median > best.Median) {
			best = r
		}
	}
	return best
}

// Write writes report.md, results.csv and plots/ (samples/s of single
// networks against batch size per case; with a GPU engine, its speed-up
// over each CPU engine; with populations, aggregate samples/s against the
// population size) into dir, every file atomically.
func Write(dir string, m Machine, rs []Result) error {
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.md"), 0o644, func(w io.Writer) error { return Markdown(w, m, rs) }); err != nil {
		return fmt.Errorf("bench: report.md: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, "results.csv"), 0o644, func(w io.Writer) error { return WriteCSV(w, rs) }); err != nil {
		return fmt.Errorf("bench: results.csv: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, "machine.json"), 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}); err != nil {
		return fmt.Errorf("bench: machine.json: %w", err)
	}
	all := rs
	rs = singles(rs)
	for _, c := range uniq(rs, func(r Result) string { return r.Case }) {
		var series []plots.Series
		for _, e := range uniq(rs, func(r Result) string { return r.Engine }) {
			for _, md := range Modes {
				s := plots.Series{Name: fmt.Sprintf("%s, %s", e, md)}
				for _, r := range rs {
					if r.Case == c && r.Engine == e && r.Mode == md && r.Skipped == "" {
						s.X = append(s.X, math.Log2(float64(r.Batch)))
						s.Y = append(s.Y, r.Median)
					}
				}
				if len(s.X) > 0 {
					series = append(series, s)
				}
			}
		}
		path := filepath.Join(dir, "plots", c+".png")
		if err := plots.Lines(path, c, "log2(batch size)", "samples/s", true, series...); err != nil {
			return fmt.Errorf("bench: %s: %w", path, err)
		}
		if sp := speedups(rs, c); len(sp) > 0 {
			path := filepath.Join(dir, "plots", c+"-speedup.png")
			if err := plots.Lines(path, c+": GPU over CPU", "log2(batch size)", "speed-up", true, sp...); err != nil {
				return fmt.Errorf("bench: %s: %w", path, err)
			}
		}
	}
	for _, c := range uniq(all, func(r Result) string { return r.Case }) {
		if sp := popSeries(all, c); len(sp) > 0 {
			path := filepath.Join(dir, "plots", c+"-population.png")
			if err := plots.Lines(path, c+": populations", "log2(population size K)", "aggregate samples/s", true, sp...); err != nil {
				return fmt.Errorf("bench: %s: %w", path, err)
			}
		}
	}
	return nil
}

// popSeries returns, per engine, mode and batch size of case c that has a
// population, the aggregate samples/s against the population size; none
// without populations.
func popSeries(rs []Result, c string) []plots.Series {
	rs = filter(rs, func(r Result) bool { return r.Case == c && r.Skipped == "" })
	if !hasPopulations(rs) {
		return nil
	}
	var out []plots.Series
	for _, e := range uniq(rs, func(r Result) string { return r.Engine }) {
		for _, md := range Modes {
			for _, b := range uniq(rs, func(r Result) string { return strconv.Itoa(r.Batch) }) {
				s := plots.Series{Name: fmt.Sprintf("%s, %s, B=%s", e, md, b)}
				for _, r := range rs {
					if r.Engine == e && r.Mode == md && strconv.Itoa(r.Batch) == b {
						s.X = append(s.X, math.Log2(float64(r.K())))
						s.Y = append(s.Y, r.Median)
					}
				}
				if len(s.X) > 1 {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// speedups returns, per mode and CPU engine, the GPU engine's samples/s
// over the CPU engine's at equal batch size.
func speedups(rs []Result, c string) []plots.Series {
	var out []plots.Series
	gpus := uniq(filter(rs, func(r Result) bool { return r.GPU }), func(r Result) string { return r.Engine })
	cpus := uniq(filter(rs, func(r Result) bool { return !r.GPU }), func(r Result) string { return r.Engine })
	for _, ge := range gpus {
		for _, ce := range cpus {
			for _, md := range Modes {
				s := plots.Series{Name: fmt.Sprintf("%s / %s, %s", ge, ce, md)}
				for _, r := range rs {
					if r.Case != c || r.Engine != ge || r.Mode != md || r.Skipped != "" {
						continue
					}
					for _, q := range rs {
						if q.Case == c && q.Engine == ce && q.Mode == md && q.Batch == r.Batch && q.Skipped == "" {
							s.X = append(s.X, math.Log2(float64(r.Batch)))
							s.Y = append(s.Y, r.Median/q.Median)
						}
					}
				}
				if len(s.X) > 0 {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func filter(rs []Result, keep func(Result) bool) []Result {
	var out []Result
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Load reads a report directory written by Write (machine.json and
// results.csv).
func Load(dir string) (Machine, []Result, error) {
	var m Machine
	raw, err := os.ReadFile(filepath.Join(dir, "machine.json"))
	if err != nil {
		return m, nil, fmt.Errorf("bench: %w", err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, nil, fmt.Errorf("bench: %s/machine.json: %w", dir, err)
	}
	f, err := os.Open(filepath.Join(dir, "results.csv"))
	if err != nil {
		return m, nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	rs, err := ReadCSV(f)
	if err != nil {
		return m, nil, fmt.Errorf("bench: %s: %w", dir, err)
	}
	return m, rs, nil
}

// Begin and End mark the README section that ReadmeSection replaces.
const (
	Begin = "<!-- bench:begin (generated by delgrad bench -readme; do not edit) -->"
	End   = "<!-- bench:end -->"
)

// ReadmeSection returns the performance table of the README for the
// report directories dirs (name: the directory's base name): per case and
// mode, the best median samples/s of every engine on every machine.
func ReadmeSection(dirs []string) (string, error) {
	b := &strings.Builder{}
	b.WriteString(Begin + "\n")
	for _, d := range dirs {
		m, rs, err := Load(d)
		if err != nil {
			return "", err
		}
		gpu := m.GPU
		if gpu == "" {
			gpu = "no GPU"
		}
		fmt.Fprintf(b, "\n[%s](%s): %s, %d cores, %s, %s; `%s`\n\n", filepath.Base(d), filepath.ToSlash(d), m.CPU, m.Cores, gpu, m.Date, m.Command)
		bestTable(b, rs)
	}
	b.WriteString("\n" + End)
	return b.String(), nil
}

// ReplaceSection returns text with the part from Begin to End replaced by
// section; the markers must be there.
func ReplaceSection(text, section string) (string, error) {
	i := strings.Index(text, Begin)
	j := strings.Index(text, End)
	if i < 0 || j < i {
		return "", fmt.Errorf("bench: the README has no %q ... %q section", Begin, End)
	}
	return text[:i] + section + text[j+len(End):], nil
}

// bestTable writes the table of each case and mode's best median samples/s
// per engine (and its batch size), skipping rows no engine measured.
func bestTable(b *strings.Builder, rs []Result) {
	engines := uniq(rs, func(r Result) string { return r.Engine })
	fmt.Fprintf(b, "| case | mode | %s |\n| --- | --- |%s\n", strings.Join(engines, " | "), strings.Repeat(" --- |", len(engines)))
	for _, c := range uniq(rs, func(r Result) string { return r.Case }) {
		for _, md := range Modes {
			cells := make([]string, len(engines))
			seen := false
			for i, e := range engines {
				if best := bestOf(rs, c, md, e); best != nil {
					cells[i] = fmt.Sprintf("%.0f (B=%d)", best.Median, best.Batch)
					seen = true
				} else {
					cells[i] = "-"
				}
			}
			if seen {
				fmt.Fprintf(b, "| %s | %s | %s |\n", c, md, strings.Join(cells, " | "))
			}
		}
	}
}
