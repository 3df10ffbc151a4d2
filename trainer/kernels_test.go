//go:build cgo

package trainer

import (
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
	"github.com/delgrad-go/delgrad/kernels/host"
)

// A hardware-aware run (a new chip every batch, its layers' passes as chip
// populations) resumes bit for bit on either engine: trained for 2 epochs
// on the kernels (compiled for the host) and resumed on the Go engine, or
// the other way round, it ends as 5 epochs on one engine do.
func TestResumeHardwareAwareAcrossEngines(t *testing.T) {
	c := tinyConfig(8, "axonal")
	p := bss2model.Defaults()
	p.SpikeJitter = 0.01
	c = onChip(c, p)
	c.Training.Epochs = 5
	t.Run("kernels_then_go", func(t *testing.T) { testResumeOn(t, c, batch.NewCPU(2), host.New(), batch.NewCPU(1)) })
	t.Run("go_then_kernels", func(t *testing.T) { testResumeOn(t, c, host.New(), batch.NewCPU(2), host.New()) })
}
