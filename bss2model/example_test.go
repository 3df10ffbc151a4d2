package bss2model_test

import (
	"fmt"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
)

// A network is evaluated on several simulated chips at once; every chip
// sees the whole batch of samples.
func ExampleEvaluate() {
	nrn := batch.Neuron{TauSyn: 1, TauMem: 1, Threshold: 2.6}
	net := &batch.Network{Inputs: 2, Multiplex: 5}
	hidden := batch.NewLayer(10, 4, 0, nrn, batch.Axonal)
	out := batch.NewLayer(4, 2, 0, nrn, batch.NoDelay)
	for i := range hidden.W() {
		hidden.W()[i] = 1.5
	}
	for i := range hidden.D() {
		hidden.D()[i] = 2.5 // realised by delay neurons: 2.5 tau_syn is register 104
	}
	for i := range out.W() {
		out.W()[i] = 2.0 - 0.5*float64(i%2) // output 0 gets the larger weights
	}
	net.Layers = []batch.Layer{hidden, out}
	x, _ := batch.TimesFrom(3, 2, []float64{0.2, 0.4, 0.3, 0.3, 1.0, 0.1})
	res, err := bss2model.Evaluate(net, bss2model.Defaults(), x, []int{0, 0, 0},
		bss2model.EvalOptions{Chips: 5, Seed: 1, Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := bss2model.Summarize(res)
	p := bss2model.Defaults()
	fmt.Printf("%d chips, mean accuracy %.2f, delay register %d\n", s.Chips, s.Mean, p.DelayRegister(2.5, 1))
	// Output: 5 chips, mean accuracy 1.00, delay register 104
}
