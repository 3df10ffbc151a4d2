// Package trainer will hold losses, optimisers, schedules, weight bumping,
// datasets, TOML configs, checkpoints, metrics and the training loop.
//
// Not implemented yet: see the project's trainer issue.
package trainer
