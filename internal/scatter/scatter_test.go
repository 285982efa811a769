package scatter

import "testing"

// Every order is a permutation, and two goroutines' orders are not shifted
// copies of each other: the distance between what they visit at the same
// position keeps changing.
func TestOrdersArePermutationsOfTheirOwn(t *testing.T) {
	for _, n := range []int{1, 2, 1000, 58982, 943718} {
		for g := range 3 {
			o := New(g, n)
			seen := make([]bool, n)
			for i := range n {
				j := o.At(i)
				if j < 0 || j >= n || seen[j] {
					t.Fatalf("n %d, order %d: position %d gives %d twice or out of range", n, g, i, j)
				}
				seen[j] = true
			}
		}
		if n < 3 {
			continue
		}
		a, b := New(0, n), New(1, n)
		d0 := (b.At(0) - a.At(0) + n) % n
		shifted := true
		for i := 1; i < 100 && shifted; i++ {
			shifted = (b.At(i)-a.At(i)+n)%n == d0
		}
		if shifted {
			t.Fatalf("n %d: orders 0 and 1 are one sequence a fixed distance apart", n)
		}
	}
}

// Order 0 is the benchmarks' historical scattered order (i * 0x9E3779B1 mod
// n), so single-goroutine figures stay comparable with earlier runs.
func TestOrderZeroIsTheHistoricalOne(t *testing.T) {
	o := New(0, 943718)
	for i := range 1000 {
		if want := int(uint64(i) * 0x9E3779B1 % 943718); o.At(i) != want {
			t.Fatalf("position %d: %d, want %d", i, o.At(i), want)
		}
	}
}
