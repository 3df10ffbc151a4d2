// Package bench will hold the benchmark suite behind `delgrad bench`.
//
// Not implemented yet: see the project's benchmark issue. The engine's Go
// benchmarks live beside its tests (go test -bench . ./batch).
package bench
