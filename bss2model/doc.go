// Package bss2model will hold the batched BrainScaleS-2 mismatch model for
// hardware-aware training and Monte-Carlo evaluation over many chips.
//
// Not implemented yet: see the project's BrainScaleS-2 issue.
package bss2model
