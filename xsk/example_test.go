//go:build linux

package xsk_test

import (
	"fmt"
	"log"
	"net"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/teredorelay/teredorelay/xsk"
)

// redirectToSockets attaches an XDP program to the interface that
// redirects every packet received on queue q to the socket at index q of
// the returned XSKMAP, and passes the packets of queues without a socket
// to the kernel. Put a socket in the map with
// sockets.Put(uint32(queue), uint32(sock.FD())).
func redirectToSockets(ifindex int) (sockets *ebpf.Map, attached link.Link, err error) {
	sockets, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: 64})
	if err != nil {
		return nil, nil, fmt.Errorf("create xskmap: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.XDP,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 16, asm.Word), // key: ctx->rx_queue_index
			asm.LoadMapPtr(asm.R1, sockets.FD()),
			asm.Mov.Imm(asm.R3, 2), // XDP_PASS when the queue has no socket
			asm.FnRedirectMap.Call(),
			asm.Return(),
		},
	})
	if err != nil {
		sockets.Close()
		return nil, nil, fmt.Errorf("load xdp program: %w", err)
	}
	defer prog.Close() // the link holds it
	attached, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex})
	if err != nil {
		sockets.Close()
		return nil, nil, fmt.Errorf("attach xdp program: %w", err)
	}
	return sockets, attached, nil
}

// swapMACs turns an Ethernet frame around.
func swapMACs(f []byte) {
	if len(f) < 12 {
		return
	}
	var dst [6]byte
	copy(dst[:], f[0:6])
	copy(f[0:6], f[6:12])
	copy(f[6:12], dst[:])
}

// Open a socket on queue 0 of eth0, steer the queue's packets into it, and
// send every frame back out of the port it came from with its MAC addresses
// swapped, for ten seconds: the receive/transmit loop of an AF_XDP
// application. The frames never leave the UMEM; the same descriptor goes
// from the RX ring to the TX ring. Run it as root (or with CAP_NET_RAW,
// CAP_NET_ADMIN, CAP_BPF and CAP_IPC_LOCK).
func ExampleOpen() {
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		log.Fatal(err)
	}
	umem, err := xsk.NewUmem(xsk.UmemConfig{NumFrames: 4096, FrameSize: 2048})
	if err != nil {
		log.Fatal(err)
	}
	defer umem.Close() // closes the socket too
	sock, err := xsk.Open(ifi.Index, 0, umem, xsk.SocketConfig{})
	if err != nil {
		log.Fatal(err)
	}
	sockets, attached, err := redirectToSockets(ifi.Index)
	if err != nil {
		log.Fatal(err)
	}
	defer sockets.Close()
	defer attached.Close()
	if err := sockets.Put(uint32(0), uint32(sock.FD())); err != nil {
		log.Fatal(err)
	}
	log.Printf("queue 0 of %s: zero-copy %v", ifi.Name, sock.ZeroCopy())

	sock.Fill(xsk.DefaultRingSize) // frames for the kernel to receive into
	descs := make([]xsk.Desc, 64)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		n := sock.Receive(descs)
		if n == 0 {
			sock.Complete()
			if err := sock.Poll(100 * time.Millisecond); err != nil {
				log.Fatal(err)
			}
			continue
		}
		for _, d := range descs[:n] {
			buf, off := sock.Frame(d)
			swapMACs(buf[off : off+int(d.Len)])
		}
		sent := sock.Transmit(descs[:n])
		for _, d := range descs[sent:n] {
			sock.Free(d) // the TX ring is full: drop
		}
		sock.Complete()           // transmitted frames back to the free stack
		sock.Fill(2 * len(descs)) // and on to the fill ring
	}
	st, err := sock.Stats()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("received %d, transmitted %d, dropped by the kernel %d (RX ring full %d, fill ring empty %d)",
		st.Ring.Received, st.Ring.Transmitted, st.RxDropped, st.RxRingFull, st.RxFillRingEmptyDescs)
}
