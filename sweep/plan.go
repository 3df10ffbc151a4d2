// Package sweep runs grids of training configurations and seeds: a sweep
// file names a base config, a grid of overrides and the seeds; the sweep
// expands into runs (ordinary run directories), groups the runs that share
// an architecture into tasks (populations), and runs the tasks on the
// local devices or as a Slurm job array, then aggregates their results.
package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/delgrad-go/delgrad/internal/atomicfile"
)

// PlanFile is the name of a sweep directory's plan.
const PlanFile = "plan.json"

// Plan is an expanded sweep: its tasks, in order, and the resources a
// cluster task asks for.
type Plan struct {
	Tasks     []Task    `json:"tasks"`
	Resources Resources `json:"resources"`
}

// Task is one unit of work: runs that train together (one population),
// each an ordinary run directory, relative to the sweep directory. Point
// is the grid point's directory (relative to the sweep directory; its
// point.toml holds the point's config) and Seeds the runs' seeds, one per
// run.
type Task struct {
	Index int      `json:"index"`
	Name  string   `json:"name"`
	Runs  []string `json:"runs"`
	Point string   `json:"point,omitempty"`
	Seeds []uint64 `json:"seeds,omitempty"`
}

// Resources are what one task asks of a cluster (Slurm): GPUs and CPUs per
// task, a time limit (Slurm's format, e.g. "01:00:00"), a partition, and
// extra sbatch options; zero values leave them to the cluster's defaults.
type Resources struct {
	GPUs      int      `json:"gpus,omitempty"`
	CPUs      int      `json:"cpus,omitempty"`
	Time      string   `json:"time,omitempty"`
	Partition string   `json:"partition,omitempty"`
	Extra     []string `json:"extra,omitempty"`
}

// WritePlan writes p into the sweep directory dir, atomically.
func WritePlan(dir string, p *Plan) error {
	raw, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: plan: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, PlanFile), append(raw, '\n'), 0o644)
}

// LoadPlan reads the plan of the sweep directory dir.
func LoadPlan(dir string) (*Plan, error) {
	raw, err := os.ReadFile(filepath.Join(dir, PlanFile))
	if err != nil {
		return nil, fmt.Errorf("sweep: %s is not a sweep directory (no %s): %w", dir, PlanFile, err)
	}
	var p Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", filepath.Join(dir, PlanFile), err)
	}
	for i, t := range p.Tasks {
		if t.Index != i || len(t.Runs) == 0 || (t.Seeds != nil && len(t.Seeds) != len(t.Runs)) {
			return nil, fmt.Errorf("sweep: %s: task %d is malformed (index %d, %d runs)", filepath.Join(dir, PlanFile), i, t.Index, len(t.Runs))
		}
	}
	return &p, nil
}
