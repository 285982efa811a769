// Package scatter gives benchmarks scattered visiting orders over n items
// (peers of a cache, keys of a table): permutations of 0..n-1 in which
// consecutive positions land far apart, so that every visit misses the CPU
// caches as traffic from many peers does.
//
// Goroutines that share the items each take an order of their own (New with
// their index). Orders of different indices use different multipliers, so
// they are different permutations: two goroutines meet on one item only by
// chance, as independent traffic does. Offsets into one permutation would
// not do: the goroutines would then visit the same items in the same
// sequence a fixed distance apart and fall into step with each other,
// writing the same entries at the same moments, which no traffic does.
package scatter
