package relay

import (
	"net/netip"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/teredo"
)

// MaxBatch is the number of frames one worker batch can prepare
// (cache.MaxBatch); frames beyond it are handled per packet.
const MaxBatch = cache.MaxBatch

// A worker batch lets the caller look up the peers of a whole RX batch at
// once (cache.Batch: many cache misses in flight instead of one after the
// other) and read the clock once per batch:
//
//	w.BeginBatch()
//	for each frame: w.PrepareDecap(buf, off, n) or w.PrepareEncap(buf, off, n)
//	w.Resolve()
//	for each frame, in the same order: w.Decap(...) or w.Encap(...)
//	w.EndBatch()
//
// Decap and Encap then find their peer among the prepared ones instead of
// probing the cache, and the batch's per-peer counters reach the cache once
// per peer in EndBatch. Preparing is only a hint: a frame that was not
// prepared, was prepared under another key or is dropped before its lookup
// is handled exactly as without a batch, and Decap and Encap give the same
// verdicts and counts either way. Outside BeginBatch/EndBatch nothing
// changes.

// BeginBatch starts a batch: the clock is read once for all of its frames.
func (w *Worker) BeginBatch() {
	w.batch.Reset()
	w.inBatch = true
	w.cursor = 0
	w.batchNow = w.e.now()
}

// PrepareDecap notes the peer of an IPv4 frame that Decap will see: the
// inner source address of a Teredo packet without indicators (packets with
// an authentication or origin indicator are dropped before any lookup). It
// validates nothing and reports whether it noted a key.
func (w *Worker) PrepareDecap(buf []byte, off, n int) bool {
	if !w.inBatch || off < 0 || n < teredo.IPv4HeaderLen || off > len(buf)-n {
		return false
	}
	b := buf[off : off+n]
	v6 := int(b[0]&0x0f)*4 + teredo.UDPHeaderLen
	if len(b) < v6+teredo.IPv6HeaderLen || b[v6]>>4 != 6 {
		return false
	}
	return w.batch.Add((*[16]byte)(b[v6+8:v6+24])) >= 0
}

// PrepareEncap notes the peer of an IPv6 frame that Encap will see: its
// destination address.
func (w *Worker) PrepareEncap(buf []byte, off, n int) bool {
	if !w.inBatch || off < 0 || n < teredo.IPv6HeaderLen || off > len(buf)-n {
		return false
	}
	return w.batch.Add((*[16]byte)(buf[off+24:off+40])) >= 0
}

// Resolve looks up every prepared peer at once.
func (w *Worker) Resolve() {
	if w.inBatch {
		w.batch.Lookup()
	}
}

// EndBatch publishes the batch's per-peer counters to the cache and the
// worker's counters to Engine.Counters, and ends the batch.
func (w *Worker) EndBatch() {
	w.batch.Reset()
	w.inBatch = false
	w.publish()
}

// now is the batch clock inside a batch, else the engine's clock.
func (w *Worker) now() int64 {
	if w.inBatch {
		return w.batchNow
	}
	return w.e.now()
}

// slot returns the prepared slot of peer k for the frame being handled, or
// -1: outside a batch, or the next slot at or after the cursor that holds k
// (frames are handled in the order they were prepared; frames dropped before
// their lookup leave their slot behind).
func (w *Worker) slot(k *[16]byte) int {
	if !w.inBatch {
		return -1
	}
	s := w.batch.Find(k, w.cursor)
	if s >= 0 {
		w.cursor = s + 1
	}
	return s
}

// observeRx is cache.Cache.ObserveRx, from the batch when k was prepared.
func (w *Worker) observeRx(k *[16]byte, from netip.AddrPort, n int, now int64) cache.RxResult {
	if w.inBatch {
		if s := w.slot(k); s >= 0 {
			return w.batch.ObserveRx(s, from, n, now)
		}
	}
	return w.e.peers.ObserveRx(k, from, n, now)
}

// lookupTx is cache.Cache.LookupTx with the engine's validity, from the
// batch when k was prepared. It remembers the slot for queuedFor.
func (w *Worker) lookupTx(k *[16]byte, n int, now int64) (netip.AddrPort, bool) {
	if w.inBatch {
		if w.txSlot = w.slot(k); w.txSlot >= 0 {
			return w.batch.LookupTx(w.txSlot, n, now, w.e.validFor)
		}
	}
	return w.e.peers.LookupTx(k, n, now, w.e.validFor)
}

// queuedFor reports whether k has a cache entry, for the packet lookupTx
// just turned down, and the bytes queued for it. A peer the batch found
// absent costs no lock (a flood of new destinations); a known one is read
// under its shard's mutex.
func (w *Worker) queuedFor(k *[16]byte) (queued int, known bool) {
	if w.inBatch && w.txSlot >= 0 && !w.batch.Known(w.txSlot) {
		return 0, false
	}
	p, known := w.e.peers.Get(k)
	return p.QueuedBytes, known
}
