package cache

import (
	"fmt"
	"hash/maphash"
)

// check verifies every structural invariant of the cache. Tests call it when
// no other goroutine uses the cache.
func (c *Cache) check() error {
	var chunks, packets, qbytes int64
	for si := range c.shards {
		s := &c.shards[si]
		inUse, pending, trusted := 0, 0, 0
		for i := range int(s.hwm) {
			e := &s.entries[i]
			switch e.state() {
			case 0:
				continue
			case Pending:
				pending++
			case Trusted:
				trusted++
			default:
				return fmt.Errorf("shard %d entry %d: state %d", si, i, e.state())
			}
			if e.seq.Load()&1 != 0 {
				return fmt.Errorf("shard %d entry %d: live entry with odd seq %d", si, i, e.seq.Load())
			}
			if q := metaFlags(e.meta.Load())&flagQueued != 0; q != (e.qPackets != 0) {
				return fmt.Errorf("shard %d entry %d: queued flag %v with %d packets queued", si, i, q, e.qPackets)
			}
			inUse++
			key := e.keyBytes()
			h := maphash.Bytes(c.seed, key[:])
			if int(h>>(64-c.shardBits)&uint64(len(c.shards)-1)) != si {
				return fmt.Errorf("shard %d entry %d: key belongs to another shard", si, i)
			}
			if got := s.findLocked(e.key[0].Load(), e.key[1].Load(), h); got != i {
				return fmt.Errorf("shard %d entry %d: find returns %d", si, i, got)
			}
			// queue chain
			n, b := 0, 0
			cur, last := e.qHead, uint32(0)
			for range int(e.qPackets) {
				if cur == 0 {
					return fmt.Errorf("shard %d entry %d: chain shorter than %d packets", si, i, e.qPackets)
				}
				l := int(c.q.plen[cur-1])
				b += l
				for off := 0; off < l; off += chunkSize {
					last = cur
					cur = c.q.next[cur-1]
					chunks++
				}
				n++
			}
			if cur != 0 || last != e.qTail || b != int(e.qBytes) || b > c.peerQueue {
				return fmt.Errorf("shard %d entry %d: chain end %d tail %d/%d bytes %d/%d", si, i, cur, last, e.qTail, b, e.qBytes)
			}
			packets += int64(n)
			qbytes += int64(b)
		}
		if int64(pending) != s.nPending.Load() || int64(trusted) != s.nTrusted.Load() {
			return fmt.Errorf("shard %d: counted %d/%d, recorded %d/%d", si, pending, trusted, s.nPending.Load(), s.nTrusted.Load())
		}
		if s.seq.Load()&1 != 0 {
			return fmt.Errorf("shard %d: index seq %d odd with no writer", si, s.seq.Load())
		}
		// index slots
		slots := 0
		for p := range s.index {
			v := s.index[p].Load()
			if v == 0 {
				continue
			}
			slots++
			i := int(v&0xffff) - 1
			if i >= int(s.hwm) || s.entries[i].state() == 0 {
				return fmt.Errorf("shard %d slot %d: points to free entry %d", si, p, i)
			}
			if key := s.entries[i].keyBytes(); v>>16 != tagOf(maphash.Bytes(c.seed, key[:])) {
				return fmt.Errorf("shard %d slot %d: bad tag", si, p)
			}
		}
		if slots != inUse {
			return fmt.Errorf("shard %d: %d index slots for %d entries", si, slots, inUse)
		}
		// pending list: creation order, every pending entry once
		seen, prev := 0, uint16(0)
		var lastCreated int64
		for j := s.pendingHead; j != 0; j = s.entries[j-1].next {
			e := &s.entries[j-1]
			if e.state() != Pending || e.prev != prev {
				return fmt.Errorf("shard %d: pending list broken at %d", si, j-1)
			}
			if seen > 0 && e.created < lastCreated {
				return fmt.Errorf("shard %d: pending list not in creation order", si)
			}
			lastCreated = e.created
			prev = j
			seen++
			if seen > len(s.entries) {
				return fmt.Errorf("shard %d: pending list cycle", si)
			}
		}
		if seen != pending || prev != s.pendingTail {
			return fmt.Errorf("shard %d: pending list has %d (want %d), tail %d/%d", si, seen, pending, prev, s.pendingTail)
		}
		// free list
		free := 0
		for j := s.freeTop; j != 0; j = s.entries[j-1].next {
			if fe := &s.entries[j-1]; fe.state() != 0 || fe.seq.Load()&1 == 0 {
				return fmt.Errorf("shard %d: free list holds live entry %d (seq %d)", si, j-1, fe.seq.Load())
			}
			free++
			if free > len(s.entries) {
				return fmt.Errorf("shard %d: free list cycle", si)
			}
		}
		if free+inUse != int(s.hwm) {
			return fmt.Errorf("shard %d: free %d + used %d != hwm %d", si, free, inUse, s.hwm)
		}
	}
	a := c.q
	freeChunks := 0
	for j := a.freeTop; j != 0; j = a.next[j-1] {
		freeChunks++
		if freeChunks > len(a.next) {
			return fmt.Errorf("arena free list cycle")
		}
	}
	if int64(a.used) != chunks || a.packets != packets || a.bytes != qbytes || freeChunks+a.used != int(a.hwm) {
		return fmt.Errorf("arena: used %d (chains %d), packets %d/%d, bytes %d/%d, free %d, hwm %d",
			a.used, chunks, a.packets, packets, a.bytes, qbytes, freeChunks, a.hwm)
	}
	return nil
}
