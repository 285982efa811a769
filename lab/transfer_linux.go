//go:build linux

package lab

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"
)

// Transfer is the outcome of a TCP transfer between two namespaces.
type Transfer struct {
	From, To       Node
	Dst            netip.AddrPort
	Sent, Received int64
	SentSHA256     [32]byte // of the bytes written by the sender
	ReceivedSHA256 [32]byte // of the bytes read by the receiver
	Elapsed        time.Duration
}

// Intact reports whether the receiver got exactly what was sent.
func (t Transfer) Intact() bool { return t.Sent == t.Received && t.SentSHA256 == t.ReceivedSHA256 }

// String summarises the transfer.
func (t Transfer) String() string {
	mbps := 0.0
	if t.Elapsed > 0 {
		mbps = float64(t.Received) * 8 / t.Elapsed.Seconds() / 1e6
	}
	return fmt.Sprintf("%s -> %s [%v]: sent %d B sha256 %x, received %d B sha256 %x, %v (%.1f Mbit/s)",
		t.From, t.To, t.Dst, t.Sent, t.SentSHA256[:8], t.Received, t.ReceivedSHA256[:8],
		t.Elapsed.Round(time.Millisecond), mbps)
}

// TCPTransfer sends size pseudo-random bytes over TCP from node from to a
// listener on dst inside node to, and hashes both ends. The sender closes
// its write side after the last byte; the receiver reads to EOF. ctx bounds
// the whole transfer (30 s when it has no deadline).
func (l *Lab) TCPTransfer(ctx context.Context, from, to Node, dst netip.Addr, size int64) (Transfer, error) {
	tr := Transfer{From: from, To: to}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()

	var ln net.Listener
	err := l.Do(to, func() error {
		var err error
		ln, err = net.Listen("tcp6", netip.AddrPortFrom(dst, 0).String())
		return err
	})
	if err != nil {
		return tr, fmt.Errorf("tcp transfer: listen in %s on %v: %w", to, dst, err)
	}
	defer ln.Close()
	tr.Dst = netip.MustParseAddrPort(ln.Addr().String())

	type result struct {
		n   int64
		sum [32]byte
		err error
	}
	recv := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			recv <- result{err: fmt.Errorf("accept: %w", err)}
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		h := sha256.New()
		n, err := io.Copy(h, c)
		var r result
		r.n, r.err = n, err
		copy(r.sum[:], h.Sum(nil))
		recv <- r
	}()
	stopAccept := context.AfterFunc(ctx, func() { ln.Close() })
	defer stopAccept()

	start := time.Now()
	var conn net.Conn
	err = l.Do(from, func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, "tcp6", tr.Dst.String())
		return err
	})
	if err != nil {
		return tr, fmt.Errorf("tcp transfer: dial %v from %s: %w", tr.Dst, from, err)
	}
	defer conn.Close()
	conn.SetDeadline(deadline)

	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	src := rand.NewChaCha8(seed)
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for tr.Sent < size {
		chunk := buf[:min(int64(len(buf)), size-tr.Sent)]
		src.Read(chunk)
		h.Write(chunk)
		n, err := conn.Write(chunk)
		tr.Sent += int64(n)
		if err != nil {
			return tr, fmt.Errorf("tcp transfer: write after %d bytes: %w", tr.Sent, err)
		}
	}
	copy(tr.SentSHA256[:], h.Sum(nil))
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return tr, fmt.Errorf("tcp transfer: close write: %w", err)
	}
	var r result
	select {
	case r = <-recv:
	case <-ctx.Done():
		return tr, fmt.Errorf("tcp transfer: waiting for the receiver: %w", ctx.Err())
	}
	tr.Elapsed = time.Since(start)
	tr.Received, tr.ReceivedSHA256 = r.n, r.sum
	if r.err != nil && !errors.Is(r.err, io.EOF) {
		return tr, fmt.Errorf("tcp transfer: receive after %d bytes: %w", r.n, r.err)
	}
	return tr, nil
}
