//go:build linux

package lab

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// A stream is a paced, sequence-numbered UDP flow from a sender (a native
// host address) to an echo responder (a Teredo client address), which
// returns every datagram to its sender: each datagram crosses the relay
// once in each direction, and both arrivals are timed on the test's clock.
// Payloads are a pseudo-random pattern keyed by flow and sequence number,
// checked at both ends, so a reordered, duplicated or corrupted datagram is
// told apart from a lost one.

// streamPayloadLen is the UDP payload of a stream datagram: flow id (4),
// sequence number (4), pattern (56).
const streamPayloadLen = 64

// StreamFlow is one sender of a stream set.
type StreamFlow struct {
	// ID names the flow in its datagrams (distinct within a set).
	ID uint32
	// From is the sender's namespace and Src its source address there.
	From Node
	Src  netip.Addr
}

// StreamReport is what one flow saw. Slices are indexed by sequence number
// (0 .. Sent-1); a zero time means the datagram never arrived.
type StreamReport struct {
	StreamFlow
	Sent   int
	SentAt []time.Time
	// Fwd are the arrivals at the responder (sender → responder), Back the
	// arrivals of the echoes at the sender.
	Fwd, Back []time.Time
	// Corrupt counts datagrams whose pattern did not match; Dup datagrams
	// that arrived twice.
	Corrupt, Dup int
}

// Lost returns the datagrams never delivered forward and the echoes never
// back (an echo cannot come back for a datagram lost forward).
func (r *StreamReport) Lost() (fwd, back int) {
	for i := range r.Sent {
		if r.Fwd[i].IsZero() {
			fwd++
		}
		if r.Back[i].IsZero() {
			back++
		}
	}
	return fwd, back
}

// LostFwdSentIn counts the datagrams sent in [from, to) that never arrived.
func (r *StreamReport) LostFwdSentIn(from, to time.Time) int {
	n := 0
	for i := range r.Sent {
		if !r.SentAt[i].Before(from) && r.SentAt[i].Before(to) && r.Fwd[i].IsZero() {
			n++
		}
	}
	return n
}

// LongestGap returns the longest silence between consecutive arrivals
// (forward, or with back the echoes) of the datagrams sent in [from, to):
// the last arrival before it and the first after it. It is zero when fewer
// than two arrived.
func (r *StreamReport) LongestGap(from, to time.Time, back bool) (last, next time.Time) {
	arr := r.Fwd
	if back {
		arr = r.Back
	}
	var at []time.Time
	for i := range r.Sent {
		if !r.SentAt[i].Before(from) && r.SentAt[i].Before(to) && !arr[i].IsZero() {
			at = append(at, arr[i])
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(at); i++ {
		if at[i].Sub(at[i-1]) > next.Sub(last) {
			last, next = at[i-1], at[i]
		}
	}
	return last, next
}

// FirstAfter returns the earliest arrival, forward and back, of a datagram
// sent at or after t (ok false when none arrived).
func (r *StreamReport) FirstAfter(t time.Time) (fwd, back time.Time, ok bool) {
	for i := range r.Sent {
		if r.SentAt[i].Before(t) {
			continue
		}
		if a := r.Fwd[i]; !a.IsZero() && (fwd.IsZero() || a.Before(fwd)) {
			fwd = a
		}
		if a := r.Back[i]; !a.IsZero() && (back.IsZero() || a.Before(back)) {
			back = a
		}
	}
	return fwd, back, !fwd.IsZero()
}

// Streams is a running set of flows towards one responder.
type Streams struct {
	interval time.Duration
	resp     *net.UDPConn
	senders  []*streamSender
	stop     chan struct{}
	wg       sync.WaitGroup

	mu      sync.Mutex // guards the reports' Fwd, Back, Corrupt, Dup
	reports []*StreamReport
	byID    map[uint32]*StreamReport
}

type streamSender struct {
	conn *net.UDPConn
	rep  *StreamReport
}

// StartStreams starts an echo responder on [dst]:port inside node to and
// one sender per flow, each sending a datagram every interval until Stop.
func (l *Lab) StartStreams(to Node, dst netip.Addr, port uint16, interval time.Duration, flows []StreamFlow) (*Streams, error) {
	s := &Streams{interval: interval, stop: make(chan struct{}), byID: map[uint32]*StreamReport{}}
	err := l.Do(to, func() error {
		var err error
		s.resp, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("stream responder on [%v]:%d in %s: %w", dst, port, to, err)
	}
	target := netip.AddrPortFrom(dst, port)
	for _, f := range flows {
		if s.byID[f.ID] != nil {
			s.close()
			return nil, fmt.Errorf("stream flow id %d used twice", f.ID)
		}
		rep := &StreamReport{StreamFlow: f}
		s.byID[f.ID] = rep
		s.reports = append(s.reports, rep)
		var conn *net.UDPConn
		err := l.Do(f.From, func() error {
			var err error
			conn, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.Src, 0)))
			return err
		})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("stream sender [%v] in %s: %w", f.Src, f.From, err)
		}
		s.senders = append(s.senders, &streamSender{conn: conn, rep: rep})
	}
	s.wg.Go(s.respond)
	for _, snd := range s.senders {
		s.wg.Go(func() { s.receiveEchoes(snd) })
		s.wg.Go(func() { s.send(snd, target) })
	}
	return s, nil
}

// streamPattern fills b with the pattern of flow id, sequence seq.
func streamPattern(b []byte, id, seq uint32) {
	r := rand.New(rand.NewPCG(uint64(id), uint64(seq)))
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		copy(b[i:], w[:])
	}
}

// streamCheck decodes a datagram: ok false when it is not a stream
// datagram of the right size or its pattern does not match.
func streamCheck(b []byte) (id, seq uint32, ok bool) {
	if len(b) != streamPayloadLen {
		return 0, 0, false
	}
	id, seq = binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8])
	var want [streamPayloadLen - 8]byte
	streamPattern(want[:], id, seq)
	return id, seq, string(want[:]) == string(b[8:])
}

func (s *Streams) send(snd *streamSender, to netip.AddrPort) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	var b [streamPayloadLen]byte
	rep := snd.rep
	for seq := uint32(0); ; seq++ {
		binary.BigEndian.PutUint32(b[0:4], rep.ID)
		binary.BigEndian.PutUint32(b[4:8], seq)
		streamPattern(b[8:], rep.ID, seq)
		s.mu.Lock()
		rep.SentAt = append(rep.SentAt, time.Now())
		rep.Fwd = append(rep.Fwd, time.Time{})
		rep.Back = append(rep.Back, time.Time{})
		rep.Sent++
		s.mu.Unlock()
		// A send error (no route while a path changes) is a lost datagram.
		_, _ = snd.conn.WriteToUDPAddrPort(b[:], to)
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// record notes an arrival of (id, seq) in the forward or back slice.
func (s *Streams) record(id, seq uint32, ok, back bool, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := s.byID[id]
	if rep == nil || int(seq) >= rep.Sent {
		return // not ours
	}
	if !ok {
		rep.Corrupt++
		return
	}
	arr := rep.Fwd
	if back {
		arr = rep.Back
	}
	if !arr[seq].IsZero() {
		rep.Dup++
		return
	}
	arr[seq] = at
}

func (s *Streams) respond() {
	buf := make([]byte, 2048)
	for {
		n, from, err := s.resp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		now := time.Now()
		id, seq, ok := streamCheck(buf[:n])
		s.record(id, seq, ok, false, now)
		if ok {
			_, _ = s.resp.WriteToUDPAddrPort(buf[:n], from)
		}
	}
}

func (s *Streams) receiveEchoes(snd *streamSender) {
	buf := make([]byte, 2048)
	for {
		n, _, err := snd.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		now := time.Now()
		id, seq, ok := streamCheck(buf[:n])
		s.record(snd.rep.ID, seq, ok && id == snd.rep.ID, true, now)
	}
}

// Stop stops sending, waits grace for the last datagrams and echoes, and
// returns one report per flow, in the order of the flows.
func (s *Streams) Stop(grace time.Duration) []StreamReport {
	close(s.stop)
	time.Sleep(grace)
	s.close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StreamReport, len(s.reports))
	for i, r := range s.reports {
		out[i] = *r
	}
	return out
}

// Snapshot returns a copy of the reports so far, while the streams run.
func (s *Streams) Snapshot() []StreamReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StreamReport, len(s.reports))
	for i, r := range s.reports {
		out[i] = *r
		out[i].SentAt = append([]time.Time(nil), r.SentAt...)
		out[i].Fwd = append([]time.Time(nil), r.Fwd...)
		out[i].Back = append([]time.Time(nil), r.Back...)
	}
	return out
}

// close closes every socket, which ends the readers.
func (s *Streams) close() {
	if s.resp != nil {
		s.resp.Close()
	}
	for _, snd := range s.senders {
		snd.conn.Close()
	}
}

// WaitDelivered waits until every flow has had a datagram sent at or after
// since delivered in both directions, or ctx ends.
func (s *Streams) WaitDelivered(ctx context.Context, since time.Time) error {
	for {
		all := true
		for _, r := range s.Snapshot() {
			if _, back, ok := r.FirstAfter(since); !ok || back.IsZero() {
				all = false
				break
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("streams not delivered in both directions since %v: %w", since.Format("15:04:05.000"), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
