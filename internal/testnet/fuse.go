package testnet

// mulAdd is x*y + z as this build's Go compiler compiles it.
//
//go:noinline
func mulAdd(x, y, z float64) float64 { return x*y + z }

// GoFuses reports whether the Go compiler fuses multiply-adds in this build
// (arm64, or amd64 with GOAMD64=v3 and up). The Go engine then rounds some
// sums once where the kernels (compiled without contraction) round twice,
// so the engines agree to rounding instead of bit for bit.
func GoFuses() bool {
	x := 1 + 0x1p-30
	return mulAdd(x, x, -1) != float64(x*x)-1
}
