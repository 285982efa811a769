package xsk

import "testing"

// FuzzFrameConservation drives the socket and a fake kernel with an arbitrary
// sequence of ring operations and checks after every step that each chunk is
// in exactly one place: the frame stack, the fill ring, the driver, the RX
// ring, the application, the TX ring or the completion ring. Frames the
// application takes with Umem.Alloc join the received ones it holds.
func FuzzFrameConservation(f *testing.F) {
	f.Add([]byte{0, 8, 1, 8, 2, 4, 3, 4, 4, 0, 4, 1, 5, 2, 6, 0})
	f.Add([]byte{0, 16, 1, 3, 2, 3, 3, 2, 4, 2, 4, 3, 5, 9, 6, 1, 0, 5})
	f.Add([]byte{7, 0, 7, 0, 4, 1, 4, 3, 0, 16, 7, 0, 5, 8, 6, 0, 7, 0, 4, 0})
	f.Add([]byte{0, 11, 7, 0, 7, 0, 7, 0, 7, 0, 7, 0, 7, 0, 1, 8, 7, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const frames = 16
		s, k := newFakeSocket(t, fakeSizes{frames: frames, fill: 8, comp: 8, rx: 8, tx: 8})
		u := s.Umem()
		var driver []uint64 // chunks the fake driver took from the fill ring
		var app []Desc      // frames the application holds
		descs := make([]Desc, 8)
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%8, int(ops[i+1])
			switch op {
			case 0:
				s.Fill(arg % 12)
			case 1:
				driver = append(driver, k.takeFill(arg%9)...)
			case 2: // driver delivers packets at the kernel's offset
				n := min(arg%9, len(driver))
				var in []xdpDesc
				for _, c := range driver[:n] {
					in = append(in, xdpDesc{Addr: c + uint64(u.RxOffset()), Len: 60})
				}
				m := k.deliver(in...)
				driver = driver[m:]
			case 3:
				n := s.Receive(descs[:1+arg%8])
				app = append(app, descs[:n]...)
			case 4: // application forwards (encap, as is, decap) or drops
				if len(app) == 0 {
					continue
				}
				d := app[0]
				switch arg % 4 {
				case 0:
					d.Addr -= 28
					d.Len += 28
				case 1:
					d.Addr += 42
					d.Len -= 42
				case 2:
					d.Len = 0 // invalid: Transmit must give the chunk back
				case 3:
					s.Free(d)
					app = app[1:]
					continue
				}
				if s.Transmit([]Desc{d}) == 1 {
					app = app[1:]
				}
			case 5: // kernel transmits and completes with the TX address
				for _, d := range k.takeTx(arg % 9) {
					k.complete(d.Addr)
				}
			case 6:
				s.Complete()
			case 7: // application builds a packet in a frame of its own
				free, failed := u.FreeFrames(), s.RingStats().AllocStackEmpty
				d, ok := u.Alloc()
				if ok != (free > 0) {
					t.Fatalf("Alloc ok=%v with %d free frames", ok, free)
				}
				if !ok {
					if s.RingStats().AllocStackEmpty != failed+1 {
						t.Fatal("failed Alloc not counted")
					}
					break
				}
				if int(d.Addr&u.frameMask) != u.RxOffset() || d.Len != 0 {
					t.Fatalf("Alloc = %+v, want Len 0 at chunk+%d", d, u.RxOffset())
				}
				d.Len = 60
				app = append(app, d)
			}
			checkConservation(t, s, k, driver, app, frames)
		}
	})
}

func checkConservation(t *testing.T, s *Socket, k *fakeKernel, driver []uint64, app []Desc, frames int) {
	t.Helper()
	u := s.umem
	count := map[uint64]int{}
	where := map[uint64][]string{}
	put := func(addr uint64, place string) {
		c := addr &^ u.frameMask
		count[c]++
		where[c] = append(where[c], place)
	}
	for _, a := range u.stack.addrs[:u.stack.n] {
		if a&u.frameMask != 0 {
			t.Fatalf("stack holds unaligned %#x", a)
		}
		put(a, "stack")
	}
	for i := k.fill.cachedCons; i != s.q.fill.cachedProd; i++ {
		put(*s.q.fill.at(i), "fill")
	}
	for _, a := range driver {
		put(a, "driver")
	}
	for i := s.rx.cachedCons; i != k.rx.cachedProd; i++ {
		put(s.rx.at(i).Addr, "rx")
	}
	for _, d := range app {
		put(d.Addr, "app")
	}
	for i := k.tx.cachedCons; i != s.tx.cachedProd; i++ {
		put(s.tx.at(i).Addr, "tx")
	}
	for i := s.q.comp.cachedCons; i != k.comp.cachedProd; i++ {
		put(*s.q.comp.at(i), "comp")
	}
	if len(count) != frames {
		t.Fatalf("%d distinct chunks accounted for, want %d: %v", len(count), frames, where)
	}
	for c, n := range count {
		if n != 1 {
			t.Fatalf("chunk %#x is in %d places: %v", c, n, where[c])
		}
	}
}
