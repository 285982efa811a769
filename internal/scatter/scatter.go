package scatter

// multipliers are large odd constants (the golden ratio's and the murmur3
// and xxhash finalisers' primes), tried in turn for one coprime with n.
var multipliers = [...]uint64{
	0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F,
	0x165667B1, 0xCC9E2D51, 0x1B873593, 0xE6546B64,
}

// Order is one scattered permutation of 0..n-1: position i holds i*k mod n.
type Order struct{ k, n uint64 }

// New returns order g (g ≥ 0) over n ≥ 1 items; make it once, outside the
// loop that visits (it runs a few gcds). Orders 0..7 are distinct
// permutations for every n whose factors none of the multipliers share;
// order 0 is the one single-goroutine benchmarks use.
func New(g, n int) Order {
	n = max(n, 1)
	var coprime [len(multipliers)]uint64
	m := 0
	for _, k := range multipliers {
		if gcd(k, uint64(n)) == 1 {
			coprime[m] = k
			m++
		}
	}
	if m == 0 {
		return Order{k: 1, n: uint64(n)}
	}
	return Order{k: coprime[g%m], n: uint64(n)}
}

// At returns the item at position i ≥ 0 (positions wrap every n).
func (o Order) At(i int) int { return int(uint64(i) * o.k % o.n) }

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
