package sweep

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxSeeds bounds a list of seeds, so that a typo (1-40000) is a clear
// error rather than hours of training.
const MaxSeeds = 4096

// ParseSeeds reads a list of seeds: ranges A-B and single seeds, separated
// by commas ("1-40", "1,3,5", "1-3,10"). Seeds are distinct, listed in
// ascending order.
func ParseSeeds(s string) ([]uint64, error) {
	seen := map[uint64]bool{}
	var out []uint64
	add := func(v uint64) error {
		if seen[v] {
			return fmt.Errorf("seed %d is listed twice", v)
		}
		seen[v] = true
		out = append(out, v)
		if len(out) > MaxSeeds {
			return fmt.Errorf("more than %d seeds", MaxSeeds)
		}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: want a seed (0 or more) or a range A-B", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("%q: want a range A-B with 0 <= A <= B", part)
			}
		}
		if b-a >= MaxSeeds {
			return nil, fmt.Errorf("%q: more than %d seeds", part, MaxSeeds)
		}
		for v := a; ; v++ {
			if err := add(v); err != nil {
				return nil, err
			}
			if v == b {
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// SeedList writes seeds compactly: runs of consecutive seeds as A-B.
func SeedList(seeds []uint64) string {
	var parts []string
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", seeds[i], seeds[j]))
		} else {
			parts = append(parts, strconv.FormatUint(seeds[i], 10))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
