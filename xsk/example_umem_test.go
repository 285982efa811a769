//go:build linux

package xsk_test

import (
	"fmt"

	"github.com/teredorelay/teredorelay/xsk"
)

// A UMEM is plain memory until a socket registers it: this needs no
// privileges. A received packet lands RxOffset bytes into its chunk (the
// UMEM headroom plus the kernel's 256 bytes), and so does a frame from
// Alloc, so the room in front of the packet is the same for both.
func ExampleNewUmem() {
	u, err := xsk.NewUmem(xsk.UmemConfig{NumFrames: 64, FrameSize: 2048, Headroom: 64})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer u.Close()
	d, ok := u.Alloc()
	if !ok {
		fmt.Println("no free frame")
		return
	}
	buf, off := u.Frame(d)
	fmt.Printf("%d chunks of %d bytes, packets at +%d\n", u.NumFrames(), u.FrameSize(), u.RxOffset())
	fmt.Printf("allocated: chunk of %d bytes, packet at +%d, %d frames left\n", len(buf), off, u.FreeFrames())
	// Output:
	// 64 chunks of 2048 bytes, packets at +320
	// allocated: chunk of 2048 bytes, packet at +320, 63 frames left
}
