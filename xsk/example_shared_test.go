//go:build linux

package xsk_test

import (
	"log"
	"net"
	"time"

	"github.com/teredorelay/teredorelay/xsk"
)

// Two ports, one UMEM: a frame received on eth0 is transmitted on eth1 and
// the other way round by handing its descriptor to the other socket, without
// a copy. Each (device, queue) gets its own fill and completion rings, so
// each socket is filled and completed on its own; the frames come from and
// return to the one free stack of the UMEM. Sockets that share a UMEM belong
// to one goroutine. (redirectToSockets is in ExampleOpen.)
func ExampleOpen_sharedUmem() {
	umem, err := xsk.NewUmem(xsk.UmemConfig{NumFrames: 8192})
	if err != nil {
		log.Fatal(err)
	}
	defer umem.Close()
	var socks [2]*xsk.Socket
	for i, name := range []string{"eth0", "eth1"} {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			log.Fatal(err)
		}
		// The first Open registers the UMEM; the second shares it
		// (XDP_SHARED_UMEM) and inherits its copy/zero-copy mode.
		if socks[i], err = xsk.Open(ifi.Index, 0, umem, xsk.SocketConfig{}); err != nil {
			log.Fatal(err)
		}
		sockets, attached, err := redirectToSockets(ifi.Index)
		if err != nil {
			log.Fatal(err)
		}
		defer sockets.Close()
		defer attached.Close()
		if err := sockets.Put(uint32(0), uint32(socks[i].FD())); err != nil {
			log.Fatal(err)
		}
		socks[i].Fill(xsk.DefaultRingSize)
	}

	descs := make([]xsk.Desc, 64)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		idle := true
		for i, in := range socks {
			out := socks[1-i]
			n := in.Receive(descs)
			if n == 0 {
				continue
			}
			idle = false
			sent := out.Transmit(descs[:n]) // same UMEM: the descriptor is enough
			for _, d := range descs[sent:n] {
				in.Free(d)
			}
		}
		for _, s := range socks {
			s.Complete()
			s.Fill(2 * len(descs))
		}
		if idle {
			time.Sleep(time.Millisecond) // or Poll each socket from its own loop
		}
	}
}
