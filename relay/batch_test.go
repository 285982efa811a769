package relay

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// batchFrame is one frame of a batch test: an IPv4 packet for Decap or an
// IPv6 packet for Encap, and whether the caller prepares it.
type batchFrame struct {
	name    string
	decap   bool
	pkt     []byte
	prepare bool
}

// batchFrames is a mixed RX batch: trusted peers in both directions (the
// same peer several times), a pending peer, unknown peers, drops before the
// lookup, a bubble, a new destination, frames the caller does not prepare.
func batchFrames(h *harness) []batchFrame {
	pendingAddr, pendingMap := teredoPeer(7)
	otherAddr, _ := teredoPeer(8)
	data := relaytest.UDPPayload(clientAddr, nativeHost, 64, 100)
	native := relaytest.UDPPayload(nativeHost, clientAddr, 64, 100)
	return []batchFrame{
		{"decap trusted", true, fromClient(data), true},
		{"encap trusted", false, native, true},
		{"decap drop ipv4 checksum", true, edit(fromClient(data), func(b []byte) { b[8]-- }), true},
		{"decap trusted again", true, fromClient(data), true},
		{"decap pending", true, relaytest.IPv4UDP(pendingMap, relayAP, relaytest.Echo(pendingAddr, nativeHost, 64, 1, 1, nil), true), true},
		{"encap pending", false, relaytest.Echo(nativeHost, pendingAddr, 64, 1, 1, nil), true},
		{"decap bubble trusted", true, fromClient(relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr))), true},
		{"encap new destination", false, relaytest.Echo(nativeHost, otherAddr, 64, 1, 1, nil), true},
		{"decap unknown", true, relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.7:1"), relayAP,
			relaytest.Echo(relaytest.TeredoAddr(serverIPv4, 0, netip.MustParseAddrPort("203.0.113.7:1")), nativeHost, 64, 1, 1, nil), true), true},
		{"encap trusted, not prepared", false, native, false},
		{"decap trusted, not prepared", true, fromClient(data), false},
		{"encap drop not teredo", false, relaytest.Echo(nativeHost, nativeOther, 64, 1, 1, nil), true},
		{"encap trusted again", false, native, true},
		{"decap not teredo", true, fromClient([]byte{0, 2, 3, 4}), true},
	}
}

// frameBuf is one frame's buffer and where its packet starts.
type frameBuf struct {
	buf []byte
	off int
}

// handleFrames runs the relay on frames, whose packets are in fs, per
// packet or as one batch (preparing the frames that say so), and gives
// each frame's result to out when it is not nil. It allocates nothing.
func (h *harness) handleFrames(frames []batchFrame, fs []frameBuf, batch bool, out func(i int, v Verdict, o, n int)) {
	if batch {
		h.w.BeginBatch()
		for i, f := range frames {
			switch {
			case !f.prepare:
			case f.decap:
				h.w.PrepareDecap(fs[i].buf, fs[i].off, len(f.pkt))
			default:
				h.w.PrepareEncap(fs[i].buf, fs[i].off, len(f.pkt))
			}
		}
		h.w.Resolve()
	}
	for i, f := range frames {
		var v Verdict
		var o, n int
		if f.decap {
			v, o, n = h.w.Decap(fs[i].buf, fs[i].off, len(f.pkt))
		} else {
			v, o, n = h.w.Encap(fs[i].buf, fs[i].off, len(f.pkt))
		}
		if out != nil {
			out(i, v, o, n)
		}
	}
	if batch {
		h.w.EndBatch()
	}
}

// runFrames handles the frames, per packet or as one batch, in fresh
// buffers and returns what came out of each.
func (h *harness) runFrames(frames []batchFrame, batch bool) (verdicts []Verdict, outs [][]byte) {
	fs := make([]frameBuf, len(frames))
	for i, f := range frames {
		fs[i].buf, fs[i].off = relaytest.Frame(f.pkt)
	}
	h.handleFrames(frames, fs, batch, func(i int, v Verdict, o, n int) {
		verdicts = append(verdicts, v)
		outs = append(outs, bytes.Clone(fs[i].buf[o:o+n]))
	})
	return verdicts, outs
}

// A batch gives exactly what per-packet handling gives: verdicts, output
// bytes, relay counters, slow-path events and the peers' cache state.
func TestBatchSameAsPerPacket(t *testing.T) {
	setup := func() *harness {
		h := newHarness(t, nil)
		h.trustClient(clientMap)
		pendingAddr, pendingMap := teredoPeer(7)
		k := pendingAddr.As16()
		h.peers.InsertPending(&k, pendingMap, h.clock.Now())
		return h
	}
	single, batched := setup(), setup()
	frames := batchFrames(single)
	for round := range 3 {
		wantV, wantOut := single.runFrames(frames, false)
		gotV, gotOut := batched.runFrames(frames, true)
		for i := range frames {
			if gotV[i] != wantV[i] || !bytes.Equal(gotOut[i], wantOut[i]) {
				t.Errorf("round %d %s: batch %v % x, per packet %v % x", round, frames[i].name, gotV[i], gotOut[i], wantV[i], wantOut[i])
			}
		}
		if got, want := batched.counters(), single.counters(); got != want {
			t.Errorf("round %d: counters differ:\nbatch      %+v\nper packet %+v", round, got, want)
		}
		if got, want := batched.e.QueueDepth(), single.e.QueueDepth(); got != want {
			t.Errorf("round %d: slow-path queue %d, per packet %d", round, got, want)
		}
		single.drain()
		batched.drain()
		for _, a := range []netip.Addr{clientAddr, teredoPeerAddr(7), teredoPeerAddr(8)} {
			k := a.As16()
			want, wok := single.peers.Get(&k)
			got, gok := batched.peers.Get(&k)
			if gok != wok || got != want {
				t.Errorf("round %d peer %v: batch %+v, per packet %+v", round, a, got, want)
			}
		}
		if got, want := batched.out.Take(), single.out.Take(); len(got) != len(want) {
			t.Errorf("round %d: slow path sent %d packets, per packet %d", round, len(got), len(want))
		}
		single.advance(0)
		batched.advance(0)
	}
	if c := batched.counters(); c.DecapForwarded == 0 || c.EncapForwarded == 0 || c.SlowPathHandoffs == 0 {
		t.Fatalf("workload did not forward and hand off: %+v", c)
	}
}

func teredoPeerAddr(i int) netip.Addr {
	a, _ := teredoPeer(i)
	return a
}

// The batch reads the clock once: every frame of a batch sees the time of
// BeginBatch, and the peer's LastRx is that time.
func TestBatchClock(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	pkt := fromClient(relaytest.UDPPayload(clientAddr, nativeHost, 64, 100))
	h.advance(5e9)
	h.w.BeginBatch()
	start := h.clock.Now()
	buf, off := relaytest.Frame(pkt)
	h.w.PrepareDecap(buf, off, len(pkt))
	h.w.Resolve()
	h.clock.Advance(3e9) // time passes during the batch
	if v, _, _ := h.w.Decap(buf, off, len(pkt)); v != ToIPv6 {
		t.Fatalf("verdict %v", v)
	}
	k := clientAddr.As16()
	// The lookup came from the batch: its counters wait for EndBatch.
	if p, _ := h.peers.Get(&k); p.RxPackets != 0 {
		t.Fatalf("rx counted before EndBatch: the frame did not use its prepared slot")
	}
	h.w.EndBatch()
	if p, _ := h.peers.Get(&k); p.LastRx != start || p.RxPackets != 1 {
		t.Fatalf("LastRx %d rx %d, want the batch's time %d and 1 packet", p.LastRx, p.RxPackets, start)
	}
}

// PrepareDecap and PrepareEncap take the peer's key from where Decap and
// Encap find it, and refuse what they cannot read.
func TestPrepareKeys(t *testing.T) {
	h := newHarness(t, nil)
	data := relaytest.UDPPayload(clientAddr, nativeHost, 64, 100)
	native := relaytest.UDPPayload(nativeHost, clientAddr, 64, 100)
	withOptions := fromClient(data)
	withOptions[0] = 0x46 // IHL 6: the UDP header moves 4 bytes on
	withOptions = append(withOptions[:20:20], append([]byte{1, 1, 1, 1}, withOptions[20:]...)...)
	tests := []struct {
		name  string
		decap bool
		pkt   []byte
		key   netip.Addr // zero: nothing prepared
	}{
		{"decap", true, fromClient(data), clientAddr},
		{"decap with IPv4 options", true, withOptions, clientAddr},
		{"decap with origin indication", true, fromClient(relaytest.WithOrigin(clientMap, data)), netip.Addr{}},
		{"decap truncated", true, fromClient(data)[:teredo.EncapLen+39], netip.Addr{}},
		{"decap too short for IPv4", true, fromClient(data)[:19], netip.Addr{}},
		{"encap", false, native, clientAddr},
		{"encap truncated", false, native[:39], netip.Addr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf, off := relaytest.Frame(tt.pkt)
			h.w.BeginBatch()
			defer h.w.EndBatch()
			var ok bool
			if tt.decap {
				ok = h.w.PrepareDecap(buf, off, len(tt.pkt))
			} else {
				ok = h.w.PrepareEncap(buf, off, len(tt.pkt))
			}
			if ok != tt.key.IsValid() {
				t.Fatalf("prepared %v", ok)
			}
			if ok {
				k := tt.key.As16()
				if h.w.batch.Find(&k, 0) != 0 {
					t.Fatalf("prepared another key than %v", tt.key)
				}
			}
		})
	}
	// Outside a batch, and with bad bounds, nothing is prepared.
	buf, off := relaytest.Frame(native)
	if h.w.PrepareEncap(buf, off, len(native)) {
		t.Fatal("prepared outside a batch")
	}
	h.w.BeginBatch()
	if h.w.PrepareEncap(buf, len(buf)-10, 40) || h.w.PrepareDecap(buf, -1, 40) {
		t.Fatal("prepared out of bounds")
	}
	h.w.EndBatch()
}

// The batch path allocates nothing.
func TestBatchZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	frames := batchFrames(h)[:2]
	fs := make([]frameBuf, len(frames))
	orig := make([][]byte, len(frames))
	for i, f := range frames {
		if !f.prepare {
			t.Fatalf("frame %s is not prepared: the test measures the batch path", f.name)
		}
		fs[i].buf, fs[i].off = relaytest.Frame(f.pkt)
		orig[i] = bytes.Clone(fs[i].buf)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for i := range fs {
			copy(fs[i].buf, orig[i])
		}
		h.handleFrames(frames, fs, true, nil)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
	if c := h.counters(); c.DecapForwarded == 0 || c.EncapForwarded == 0 {
		t.Fatalf("nothing forwarded: %+v", c)
	}
}

// FuzzBatch: any frame, handled in a batch next to a trusted peer's frame
// and again after it, gives what per-packet handling gives (PrepareDecap
// and PrepareEncap read arbitrary bytes).
func FuzzBatch(f *testing.F) {
	for _, fr := range pcapFrames(f, relayPcap) {
		f.Add(fr)
	}
	f.Add(fromClient(relaytest.UDPPayload(clientAddr, nativeHost, 64, 100)))
	f.Add(relaytest.UDPPayload(nativeHost, clientAddr, 64, 100))
	f.Add(fromClient(relaytest.WithOrigin(clientMap, relaytest.Bubble(clientAddr, nativeHost))))
	setup := func() *harness {
		h := newHarness(f, nil)
		h.trustClient(clientMap)
		return h
	}
	single, batched := setup(), setup()
	trustedFrame := fromClient(relaytest.UDPPayload(clientAddr, nativeHost, 64, 100))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		decap := len(pkt) > 0 && pkt[0]>>4 == 4
		frames := []batchFrame{
			{"fuzzed", decap, pkt, true},
			{"trusted", true, trustedFrame, true},
			{"fuzzed again", decap, pkt, true},
		}
		wantV, wantOut := single.runFrames(frames, false)
		gotV, gotOut := batched.runFrames(frames, true)
		for i := range frames {
			if gotV[i] != wantV[i] || !bytes.Equal(gotOut[i], wantOut[i]) {
				t.Fatalf("%s: batch %v % x, per packet %v % x", frames[i].name, gotV[i], gotOut[i], wantV[i], wantOut[i])
			}
		}
		if got, want := batched.counters(), single.counters(); got != want {
			t.Fatalf("counters differ:\nbatch      %+v\nper packet %+v", got, want)
		}
		single.drain()
		batched.drain()
		single.out.Take()
		batched.out.Take()
	})
}

// Inside a batch the worker's counters reach Engine.Counters at EndBatch,
// all at once; outside a batch after every packet.
func TestCountersPublishedPerBatch(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	pkt := fromClient(relaytest.UDPPayload(clientAddr, nativeHost, 64, 100))
	if v, _ := h.decap(pkt); v != ToIPv6 {
		t.Fatalf("verdict %v", v)
	}
	if c := h.e.Counters(); c.DecapForwarded != 1 {
		t.Fatalf("outside a batch: forwarded %d, want 1", c.DecapForwarded)
	}
	h.w.BeginBatch()
	for range 3 {
		if v, _ := h.decap(pkt); v != ToIPv6 {
			t.Fatalf("verdict %v", v)
		}
	}
	if c := h.e.Counters(); c.DecapForwarded != 1 {
		t.Fatalf("inside a batch: forwarded %d, want the last published 1", c.DecapForwarded)
	}
	h.w.EndBatch()
	if c := h.e.Counters(); c.DecapForwarded != 4 || c.DecapPackets != 4 {
		t.Fatalf("after EndBatch: %d of %d forwarded, want 4 of 4", c.DecapForwarded, c.DecapPackets)
	}
}
