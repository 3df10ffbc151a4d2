package sweep

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/trainer"
)

// Slot is a place where the local backend runs tasks, one at a time: a
// device, such as one GPU or the CPU with some workers. Slots run at once,
// each on its own engine; a task's runs come out the same bits whichever
// slot trains them (the engines agree bit for bit, see package kernels).
type Slot struct {
	// Name names the slot in progress lines and errors ("gpu:1", "cpu").
	Name string
	// GPU marks a GPU's slot: idle GPU slots take the next task before
	// idle CPU slots.
	GPU bool
	// Open opens the engine the slot's tasks train on. The slot keeps it
	// for its next task, and opens a new one after a task that failed or
	// had a run fail. A slot whose Open fails takes no more tasks (the
	// others take them).
	Open func() (SlotEngine, error)
}

// SlotEngine is the engine a Slot opened.
type SlotEngine struct {
	Engine batch.Engine
	// Name names the engine and its device in the runs' summaries
	// (summary.json's engine) and the tasks' running markers.
	Name string
	// Close, if not nil, frees the engine when the slot is done with it.
	Close func() error
}

// LocalOptions configure RunLocal.
type LocalOptions struct {
	// Slots are where the tasks run; at least one.
	Slots []Slot
	// RetryFailed and Force are as in Options.
	RetryFailed, Force bool
	// The hooks below are called from the slots' goroutines, possibly at
	// the same time: they must be safe for concurrent use. A nil hook is
	// skipped.
	//
	// Started is called when a slot starts a task (its engine open).
	Started func(s TaskStart)
	// Hooks returns the hooks of a task's population.
	Hooks func(s TaskStart) trainer.PopHooks
	// Ended is called when a task has ended, with its outcome.
	Ended func(r TaskRun)
	// SlotFailed is called when a slot's engine failed to open: the slot
	// is dropped.
	SlotFailed func(e SlotError)
}

// TaskStart says which slot and engine run a task.
type TaskStart struct {
	Task   int
	Slot   string
	Engine string
}

// TaskRun is the outcome of one task on a slot.
type TaskRun struct {
	TaskStart
	Result TaskResult
	// Err is RunTask's error; Interrupted says that ctx stopped the task
	// (Err then wraps ctx's cause, and every run is checkpointed).
	Err         error
	Interrupted bool
	Time        time.Duration
}

// SlotError is a slot whose engine failed to open, before the task it was
// to run (which went back to the queue).
type SlotError struct {
	Slot string
	Task int
	Err  error
}

func (e SlotError) Error() string {
	return fmt.Sprintf("slot %s: opening its engine: %v", e.Slot, e.Err)
}

func (e SlotError) Unwrap() error { return e.Err }

// LocalResult is how the tasks of RunLocal ended.
type LocalResult struct {
	// Runs are the tasks that ran, in the order they ended.
	Runs []TaskRun
	// Interrupted lists the tasks that ctx stopped, with every run
	// checkpointed, in plan order.
	Interrupted []int
	// NotRun lists the tasks that no slot started, in plan order: ctx was
	// done first, or every slot's engine failed to open.
	NotRun []int
	// SlotErrors are the slots dropped because their engine failed to
	// open.
	SlotErrors []SlotError
}

// Failed returns the tasks that ended with an error other than an
// interrupt, in plan order.
func (r LocalResult) Failed() []TaskRun {
	var f []TaskRun
	for _, t := range r.Runs {
		if t.Err != nil && !t.Interrupted {
			f = append(f, t)
		}
	}
	sort.Slice(f, func(a, b int) bool { return f[a].Task < f[b].Task })
	return f
}

// interrupted says that err, a task's error, is ctx's interrupt.
func interrupted(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, context.Cause(ctx)))
}

// RunLocal runs the given tasks of the sweep in dir (indices into
// plan.Tasks) on the slots at once: each slot takes the next task in the
// given order when it is idle (GPU slots before CPU slots when several are
// idle) and runs it with RunTask on its engine. A task's error (a bad
// grid point, a file that cannot be written) ends that task only; the
// other slots go on, and the slot takes the next task. When ctx is done no
// task starts any more and the tasks under way stop after their epochs
// under way, every run checkpointed (LocalResult.Interrupted). The error
// is for bad arguments only; how the tasks ended is in LocalResult.
func RunLocal(ctx context.Context, dir string, plan *Plan, tasks []int, opt LocalOptions) (LocalResult, error) {
	var res LocalResult
	if len(opt.Slots) == 0 {
		return res, errors.New("sweep: no slot to run the tasks on")
	}
	for _, s := range opt.Slots {
		if s.Open == nil {
			return res, fmt.Errorf("sweep: slot %s has no Open", s.Name)
		}
	}
	for _, i := range tasks {
		if i < 0 || i >= len(plan.Tasks) {
			return res, InputError{fmt.Errorf("sweep: task %d: the sweep has tasks 0..%d", i, len(plan.Tasks)-1)}
		}
	}
	// order: the slots by priority, GPUs first, each kind in the order given.
	order := make([]int, len(opt.Slots))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool { return opt.Slots[order[a]].GPU && !opt.Slots[order[b]].GPU })

	type ended struct {
		slot int
		run  TaskRun
		// openErr: the slot's engine failed to open; the task did not run.
		openErr error
	}
	engines := make([]*SlotEngine, len(opt.Slots))
	idle := make([]bool, len(opt.Slots))
	dropped := make([]bool, len(opt.Slots))
	for k := range idle {
		idle[k] = true
	}
	done := make(chan ended)
	queue := append([]int(nil), tasks...)
	busy := 0
	var interruptedTasks []int
	for {
		for _, k := range order {
			if len(queue) == 0 || ctx.Err() != nil {
				break
			}
			if !idle[k] || dropped[k] {
				continue
			}
			i := queue[0]
			queue = queue[1:]
			idle[k] = false
			busy++
			go func(k, i int) {
				s := &opt.Slots[k]
				if engines[k] == nil {
					e, err := s.Open()
					if err != nil {
						done <- ended{slot: k, run: TaskRun{TaskStart: TaskStart{Task: i, Slot: s.Name}}, openErr: err}
						return
					}
					engines[k] = &e
				}
				e := engines[k]
				st := TaskStart{Task: i, Slot: s.Name, Engine: e.Name}
				if opt.Started != nil {
					opt.Started(st)
				}
				o := Options{Engine: e.Engine, EngineName: e.Name, RetryFailed: opt.RetryFailed, Force: opt.Force}
				if opt.Hooks != nil {
					o.Hooks = opt.Hooks(st)
				}
				t0 := time.Now()
				r, err := runTask(ctx, dir, plan, i, o)
				done <- ended{slot: k, run: TaskRun{TaskStart: st, Result: r, Err: err, Interrupted: interrupted(ctx, err), Time: time.Since(t0)}}
			}(k, i)
		}
		if busy == 0 {
			break
		}
		d := <-done
		busy--
		k := d.slot
		idle[k] = true
		if d.openErr != nil {
			se := SlotError{Slot: opt.Slots[k].Name, Task: d.run.Task, Err: d.openErr}
			res.SlotErrors = append(res.SlotErrors, se)
			dropped[k] = true
			queue = append([]int{d.run.Task}, queue...)
			if opt.SlotFailed != nil {
				opt.SlotFailed(se)
			}
			continue
		}
		res.Runs = append(res.Runs, d.run)
		if d.run.Interrupted {
			interruptedTasks = append(interruptedTasks, d.run.Task)
		}
		// A fresh engine after trouble: a device error may have left the
		// engine unusable.
		if d.run.Err != nil || len(d.run.Result.Failed) > 0 {
			closeEngine(engines[k])
			engines[k] = nil
		}
		if opt.Ended != nil {
			opt.Ended(d.run)
		}
	}
	for k, e := range engines {
		closeEngine(e)
		engines[k] = nil
	}
	sort.Ints(interruptedTasks)
	res.Interrupted = interruptedTasks
	res.NotRun = append([]int(nil), queue...)
	sort.Ints(res.NotRun)
	return res, nil
}

// runTask is RunTask with a panic (a bug) turned into the task's error,
// so that the other slots' tasks still stop at a safe point.
func runTask(ctx context.Context, dir string, plan *Plan, i int, o Options) (r TaskResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sweep: task %d: internal error (a bug; please report it): %v\n%s", i, p, debug.Stack())
		}
	}()
	return RunTask(ctx, dir, plan, i, o)
}

// closeEngine frees a slot's engine (a failure to free it changes no run).
func closeEngine(e *SlotEngine) {
	if e != nil && e.Close != nil {
		e.Close()
	}
}
