package dataset

// Constants of the 32-bit Mersenne Twister MT19937 (Matsumoto & Nishimura).
const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// mt19937 is the 32-bit Mersenne Twister, seeded like NumPy's legacy
// RandomState with an integer seed (init_genrand).
type mt19937 struct {
	state [mtN]uint32
	pos   int
}

// newMT19937 returns a generator initialised with init_genrand(seed).
func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{}
	m.state[0] = seed
	for i := 1; i < mtN; i++ {
		prev := m.state[i-1]
		m.state[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	m.pos = mtN
	return m
}

// twist regenerates the whole state block.
func (m *mt19937) twist() {
	for i := range mtN {
		y := (m.state[i] & mtUpperMask) | (m.state[(i+1)%mtN] & mtLowerMask)
		next := m.state[(i+mtM)%mtN] ^ (y >> 1)
		if y&1 != 0 {
			next ^= mtMatrixA
		}
		m.state[i] = next
	}
	m.pos = 0
}

// uint32 returns the next tempered 32-bit output (genrand_int32).
func (m *mt19937) uint32() uint32 {
	if m.pos >= mtN {
		m.twist()
	}
	y := m.state[m.pos]
	m.pos++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// float64 returns a uniform double in [0, 1) with 53 random bits
// (genrand_res53, NumPy's legacy random_sample).
func (m *mt19937) float64() float64 {
	a := m.uint32() >> 5
	b := m.uint32() >> 6
	return (float64(a)*67108864.0 + float64(b)) / 9007199254740992.0
}

// intn3 draws an integer in [0, 3) like NumPy's legacy RandomState.randint(3):
// masked rejection sampling on full 32-bit outputs.
func (m *mt19937) intn3() int {
	const rng, mask = 2, 3
	for {
		v := m.uint32() & mask
		if v <= rng {
			return int(v)
		}
	}
}
