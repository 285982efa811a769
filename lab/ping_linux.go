//go:build linux

package lab

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// PingReply is one ICMPv6 Echo Reply.
type PingReply struct {
	Seq  int
	From netip.Addr
	RTT  time.Duration
	Size int // ICMPv6 message bytes
}

// PingResult is what Ping6 saw.
type PingResult struct {
	From    Node
	Dst     netip.Addr
	Sent    int
	Replies []PingReply // in arrival order, duplicates removed
	// Errors lists the ICMPv6 error messages received that quote one of
	// this ping's requests (e.g. "destination unreachable code 3 from X").
	Errors  []string
	Elapsed time.Duration
}

// Received is the number of distinct sequence numbers answered.
func (r PingResult) Received() int { return len(r.Replies) }

// String renders the result like ping(8).
func (r PingResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PING %v from %s: 56 data bytes\n", r.Dst, r.From)
	for _, p := range r.Replies {
		fmt.Fprintf(&b, "%d bytes from %v: icmp_seq=%d time=%.3f ms\n", p.Size, p.From, p.Seq, float64(p.RTT.Microseconds())/1000)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "%s\n", e)
	}
	loss := 100.0
	if r.Sent > 0 {
		loss = 100 * float64(r.Sent-r.Received()) / float64(r.Sent)
	}
	fmt.Fprintf(&b, "--- %v ping statistics ---\n%d packets transmitted, %d received, %.0f%% packet loss, time %v",
		r.Dst, r.Sent, r.Received(), loss, r.Elapsed.Round(time.Millisecond))
	return b.String()
}

// PingInterval is the spacing of Ping6's echo requests.
const PingInterval = 200 * time.Millisecond

// Ping6 sends count ICMPv6 Echo Requests (56 data bytes, PingInterval apart)
// from node's namespace to dst and collects the replies. After the last
// request it waits until every request is answered, up to 3 s or ctx's end.
// The first packets towards a Teredo peer are held while the relay or the
// client runs its bubble exchange, so replies may arrive late, not lost.
func (l *Lab) Ping6(ctx context.Context, from Node, dst netip.Addr, count int) (PingResult, error) {
	res := PingResult{From: from, Dst: dst}
	var conn net.PacketConn
	err := l.Do(from, func() error {
		var err error
		conn, err = net.ListenPacket("ip6:ipv6-icmp", "::")
		return err
	})
	if err != nil {
		return res, fmt.Errorf("ping6 from %s: open icmpv6 socket: %w", from, err)
	}
	defer conn.Close()

	id := uint16(rand.Uint32())
	start := time.Now()
	var mu sync.Mutex
	sentAt := make(map[int]time.Time, count)
	seen := make(map[int]bool, count)
	allIn := make(chan struct{})
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		buf := make([]byte, 2048)
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			m := buf[:n]
			if len(m) < 8 {
				continue
			}
			mu.Lock()
			switch {
			case m[0] == 129 && binary.BigEndian.Uint16(m[4:6]) == id:
				seq := int(binary.BigEndian.Uint16(m[6:8]))
				if t, ok := sentAt[seq]; ok && !seen[seq] {
					seen[seq] = true
					src, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
					res.Replies = append(res.Replies, PingReply{Seq: seq, From: src, RTT: now.Sub(t), Size: n})
					if len(res.Replies) == count {
						close(allIn)
					}
				}
			case m[0] >= 1 && m[0] <= 4 && len(m) >= 8+40+8 && m[8+40] == 128 &&
				binary.BigEndian.Uint16(m[8+40+4:8+40+6]) == id:
				res.Errors = append(res.Errors, fmt.Sprintf("From %v: %s", peer, icmpv6ErrorName(m[0], m[1])))
			}
			mu.Unlock()
		}
	}()

	data := make([]byte, 56)
	for i := range data {
		data[i] = byte(i)
	}
	dstAddr := &net.IPAddr{IP: net.IP(dst.AsSlice())}
	var sendErr error
	for seq := 1; seq <= count; seq++ {
		msg := make([]byte, 8+len(data))
		msg[0] = 128 // Echo Request; the kernel fills in the checksum
		binary.BigEndian.PutUint16(msg[4:6], id)
		binary.BigEndian.PutUint16(msg[6:8], uint16(seq))
		copy(msg[8:], data)
		mu.Lock()
		sentAt[seq] = time.Now()
		mu.Unlock()
		if _, err := conn.WriteTo(msg, dstAddr); err != nil {
			sendErr = fmt.Errorf("ping6 from %s to %v: send seq %d: %w", from, dst, seq, err)
			break
		}
		res.Sent++
		if seq < count {
			select {
			case <-ctx.Done():
				sendErr = fmt.Errorf("ping6 from %s to %v: %w", from, dst, ctx.Err())
			case <-time.After(PingInterval):
			}
			if sendErr != nil {
				break
			}
		}
	}
	if sendErr == nil {
		select {
		case <-allIn:
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
	conn.Close()
	<-recvDone
	res.Elapsed = time.Since(start)
	return res, sendErr
}

func icmpv6ErrorName(typ, code uint8) string {
	switch typ {
	case 1:
		return fmt.Sprintf("Destination unreachable code %d", code)
	case 2:
		return "Packet too big"
	case 3:
		return fmt.Sprintf("Time exceeded code %d", code)
	case 4:
		return fmt.Sprintf("Parameter problem code %d", code)
	}
	return fmt.Sprintf("ICMPv6 type %d code %d", typ, code)
}
