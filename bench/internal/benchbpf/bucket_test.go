package benchbpf

import "testing"

// TestBucketBounds checks that every latency falls in the bucket whose bounds
// contain it (the Go twin of sink.c's bucket()) and that the buckets tile the
// line without gaps up to the histogram's end.
func TestBucketBounds(t *testing.T) {
	for _, ns := range []uint64{0, 1, 7, 8, 9, 15, 16, 17, 1000, 1023, 1024, 5377, 1e6, 123456789, 1 << 40} {
		b := Bucket(ns)
		lo, hi := BucketBounds(b)
		if ns < lo || ns >= hi {
			t.Errorf("%d ns: bucket %d is [%d, %d)", ns, b, lo, hi)
		}
	}
	_, prevHi := BucketBounds(0)
	top := Bucket(^uint64(0))
	for b := 1; b <= top; b++ {
		lo, hi := BucketBounds(b)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d is [%d, %d), previous ended at %d", b, lo, hi, prevHi)
		}
		prevHi = hi
	}
	if top >= HistBuckets {
		t.Errorf("the largest latency maps to bucket %d of %d", top, HistBuckets)
	}
}
