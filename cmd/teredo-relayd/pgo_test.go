package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// default.pgo is the CPU profile go build optimises teredo-relayd with
// (profile-guided optimisation, -pgo=auto; `make pgo` rebuilds it from the
// worker step benchmarks). A profile is allowed to lag the code a little,
// but one that no longer names the fast path's functions (renamed, moved,
// or a profile of something else) optimises nothing: rebuild it.
func TestDefaultPGOProfileCoversFastPath(t *testing.T) {
	f, err := os.Open("default.pgo")
	if err != nil {
		t.Fatalf("open the PGO profile: %v", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("default.pgo is not a gzipped pprof profile: %v", err)
	}
	raw, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("read the PGO profile: %v", err)
	}
	for _, fn := range []string{
		"dataplane.(*Worker).Step",
		"dataplane.(*Worker).forward",
		"relay.(*Worker).decap",
		"relay.(*Worker).encap",
		"relay.(*Worker).PrepareDecap",
		"cache.(*Batch).Lookup",
		"cache.(*Batch).ObserveRx",
		"cache.(*Batch).LookupTx",
		"teredo.InnerChecksum",
	} {
		if !bytes.Contains(raw, []byte("github.com/teredorelay/teredorelay/"+fn)) {
			t.Errorf("default.pgo has no samples of %s: run make pgo", fn)
		}
	}
}
