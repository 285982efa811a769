//go:build linux

package loadgen

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/teredorelay/teredorelay/bench/internal/benchbpf"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// TestGenProgramMatchesWriteFrame runs the live-frames program with a plain
// BPF_PROG_RUN (which every kernel of this kind permits) for chosen sequence
// numbers of every traffic shape, each run over the previous run's output
// (live frames reuse pages without re-copying the data), and compares each
// output frame byte for byte with Traffic.writeFrame, the AF_XDP
// generator's writer: both generators must put the same packets on the
// wire.
func TestGenProgramMatchesWriteFrame(t *testing.T) {
	testenv.RequireRoot(t)
	cs := Clients(5, testEP.Server)
	var traffics []Traffic
	for _, build := range []func() (Traffic, error){
		func() (Traffic, error) { return DecapPeers(testEP, 1_000_000, 0) },
		func() (Traffic, error) { return EncapPeers(testEP, 70_000, 0) },
		func() (Traffic, error) { return Mixed(testEP, cs, 0) },
		func() (Traffic, error) { return Garbage(testEP, cs, 0, 5) },
		func() (Traffic, error) { return Bubbles(testEP, cs) },
	} {
		tr, err := build()
		if err != nil {
			t.Fatal(err)
		}
		traffics = append(traffics, tr)
	}
	for _, tr := range traffics {
		t.Run(tr.Name, func(t *testing.T) {
			g, err := newLiveGen(tr, 1, 2, 64)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if err := g.prog.Config.Put(uint32(0), &g.cfg); err != nil {
				t.Fatal(err)
			}
			// Each run gets the previous run's output, as a live-frames page
			// keeps what the program wrote when the kernel reuses it.
			in := append([]byte(nil), tr.Frame...)
			out := make([]byte, len(tr.Frame))
			want := make([]byte, len(tr.Frame))
			for _, seq := range []uint64{0, 1, 2, 3, 5, 63, 64, 65, 12345, 69_999, 70_000, 999_999, 1_000_001} {
				if err := g.prog.State.Put(uint32(0), &benchbpf.GenState{Seq: seq}); err != nil {
					t.Fatal(err)
				}
				ret, err := g.prog.Prog.Run(&ebpf.RunOptions{Data: in, DataOut: out, Repeat: 1})
				if err != nil {
					t.Fatalf("BPF_PROG_RUN: %v", err)
				}
				slot := &tr.Slots[seq%uint64(len(tr.Slots))]
				wantRet := uint32(3) // XDP_TX
				if slot.Egress == egressRedirect {
					wantRet = 4 // XDP_REDIRECT
				}
				if ret != wantRet {
					t.Fatalf("seq %d: verdict %d, want %d", seq, ret, wantRet)
				}
				// A probe's timestamp is the program's clock: give Go the same.
				ts := binary.LittleEndian.Uint64(out[int(slot.ProbeOff)+16:])
				if (seq%64 == 0) != (ts != 0) {
					t.Errorf("seq %d: timestamp %d (probes are every 64th frame)", seq, ts)
				}
				tr.writeFrame(want, seq, ts)
				if !bytes.Equal(out, want) {
					t.Errorf("seq %d: program and writeFrame differ:\nbpf % x\ngo  % x", seq, out, want)
				}
				copy(in, out)
			}
		})
	}
}
