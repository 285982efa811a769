//go:build linux

package xsk

import (
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysState is the per-socket scratch the Linux data path needs.
type sysState struct {
	pollFD [1]unix.PollFd
}

// NewUmem allocates the packet memory (anonymous, populated mmap). The UMEM is
// registered with the kernel by the first Open.
func NewUmem(cfg UmemConfig) (*Umem, error) {
	if cfg.NumFrames == 0 {
		cfg.NumFrames = DefaultNumFrames
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = DefaultFrameSize
	}
	if cfg.FillSize == 0 {
		cfg.FillSize = DefaultRingSize
	}
	if cfg.CompSize == 0 {
		cfg.CompSize = DefaultRingSize
	}
	switch {
	case cfg.FrameSize != 2048 && cfg.FrameSize != 4096:
		return nil, fmt.Errorf("new umem: frame size %d is not 2048 or 4096: %w", cfg.FrameSize, ErrConfig)
	case cfg.NumFrames < 0 || cfg.NumFrames > 1<<22:
		return nil, fmt.Errorf("new umem: %d frames: %w", cfg.NumFrames, ErrConfig)
	case cfg.Headroom < 0 || cfg.Headroom >= cfg.FrameSize-KernelHeadroom:
		// The kernel refuses headroom >= chunk size - XDP_PACKET_HEADROOM.
		return nil, fmt.Errorf("new umem: headroom %d with %d-byte frames: %w", cfg.Headroom, cfg.FrameSize, ErrConfig)
	case !powerOfTwo(cfg.FillSize) || !powerOfTwo(cfg.CompSize):
		return nil, fmt.Errorf("new umem: fill %d / completion %d ring sizes must be powers of two: %w", cfg.FillSize, cfg.CompSize, ErrConfig)
	}
	area, err := unix.Mmap(-1, 0, cfg.NumFrames*cfg.FrameSize,
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("new umem: mmap %d bytes: %w", cfg.NumFrames*cfg.FrameSize, err)
	}
	return newUmemOver(area, cfg), nil
}

// Close closes every socket still open on the UMEM and unmaps its memory.
func (u *Umem) Close() error {
	if u.closed {
		return nil
	}
	var errs []error
	for len(u.sockets) > 0 {
		if err := u.sockets[len(u.sockets)-1].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	u.closed = true
	if err := unix.Munmap(u.area); err != nil {
		errs = append(errs, fmt.Errorf("close umem: munmap: %w", err))
	}
	u.area = nil
	return errors.Join(errs...)
}

// Open creates an AF_XDP socket bound to (ifindex, queue) on u.
//
// The first socket of a UMEM registers it (XDP_UMEM_REG) and creates the fill
// and completion rings of its queue. A later socket shares the UMEM
// (XDP_SHARED_UMEM): on a queue that already has a socket of this UMEM it
// shares that queue's fill/completion rings (and gets RX/TX rings only); on
// another queue or device it gets its own fill/completion pair, as the kernel
// requires since Linux 5.10. Shared sockets inherit the first socket's mode.
func Open(ifindex, queue int, u *Umem, cfg SocketConfig) (*Socket, error) {
	if u == nil || u.closed {
		return nil, fmt.Errorf("open xsk: umem: %w", ErrClosed)
	}
	if cfg.RxSize == 0 {
		cfg.RxSize = DefaultRingSize
	}
	if cfg.TxSize == 0 {
		cfg.TxSize = DefaultRingSize
	}
	if !powerOfTwo(cfg.RxSize) || !powerOfTwo(cfg.TxSize) {
		return nil, fmt.Errorf("open xsk: rx %d / tx %d ring sizes must be powers of two: %w", cfg.RxSize, cfg.TxSize, ErrConfig)
	}
	if cfg.ForceCopy && cfg.ForceZeroCopy {
		return nil, fmt.Errorf("open xsk: ForceCopy and ForceZeroCopy both set: %w", ErrConfig)
	}
	if ifindex <= 0 || queue < 0 {
		return nil, fmt.Errorf("open xsk: ifindex %d queue %d: %w", ifindex, queue, ErrConfig)
	}

	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open xsk: socket: %w", err)
	}
	s := &Socket{fd: fd, ifindex: ifindex, queue: queue, umem: u, kick: sysKick}
	var q *queueRings // set when this socket creates its queue's ring pair
	ok := false
	defer func() {
		if ok {
			return
		}
		unmap(&s.rxMem)
		unmap(&s.txMem)
		if q != nil {
			unmap(&q.fillMem)
			unmap(&q.compMem)
		}
		unix.Close(fd)
	}()

	sa := &unix.SockaddrXDP{Ifindex: uint32(ifindex), QueueID: uint32(queue)}
	switch peer := u.socketOn(ifindex, queue); {
	case len(u.sockets) == 0:
		reg := unix.XDPUmemReg{
			Addr:     uint64(uintptr(unsafe.Pointer(unsafe.SliceData(u.area)))),
			Len:      uint64(len(u.area)),
			Size:     uint32(u.frameSize),
			Headroom: uint32(u.headroom),
		}
		if err := setsockopt(fd, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
			return nil, fmt.Errorf("open xsk: register umem: %w", err)
		}
		q = &queueRings{ifindex: ifindex, queue: queue}
		switch {
		case cfg.ForceCopy:
			sa.Flags |= unix.XDP_COPY
		case cfg.ForceZeroCopy:
			sa.Flags |= unix.XDP_ZEROCOPY
		}
		if !cfg.NoNeedWakeup {
			sa.Flags |= unix.XDP_USE_NEED_WAKEUP
		}
	case peer != nil:
		s.q = peer.q
		sa.Flags = unix.XDP_SHARED_UMEM
		sa.SharedUmemFD = uint32(peer.fd)
	default:
		q = &queueRings{ifindex: ifindex, queue: queue}
		sa.Flags = unix.XDP_SHARED_UMEM
		sa.SharedUmemFD = uint32(u.sockets[0].fd)
	}
	if q != nil {
		if err := setsockoptInt(fd, unix.XDP_UMEM_FILL_RING, int(u.fillSize)); err != nil {
			return nil, fmt.Errorf("open xsk: fill ring size %d: %w", u.fillSize, err)
		}
		if err := setsockoptInt(fd, unix.XDP_UMEM_COMPLETION_RING, int(u.compSize)); err != nil {
			return nil, fmt.Errorf("open xsk: completion ring size %d: %w", u.compSize, err)
		}
	}
	if err := setsockoptInt(fd, unix.XDP_RX_RING, cfg.RxSize); err != nil {
		return nil, fmt.Errorf("open xsk: rx ring size %d: %w", cfg.RxSize, err)
	}
	if err := setsockoptInt(fd, unix.XDP_TX_RING, cfg.TxSize); err != nil {
		return nil, fmt.Errorf("open xsk: tx ring size %d: %w", cfg.TxSize, err)
	}
	var off unix.XDPMmapOffsets
	offLen := uint32(unsafe.Sizeof(off))
	if err := getsockopt(fd, unix.XDP_MMAP_OFFSETS, unsafe.Pointer(&off), &offLen); err != nil {
		return nil, fmt.Errorf("open xsk: mmap offsets: %w", err)
	}
	if offLen != uint32(unsafe.Sizeof(off)) {
		return nil, fmt.Errorf("open xsk: mmap offsets: kernel returned %d bytes (pre-5.4 layout without ring flags is not supported): %w", offLen, ErrUnsupported)
	}

	const descSize = uint64(unsafe.Sizeof(xdpDesc{}))
	if s.rxMem, err = mapRing(fd, unix.XDP_PGOFF_RX_RING, off.Rx.Desc+uint64(cfg.RxSize)*descSize); err != nil {
		return nil, fmt.Errorf("open xsk: mmap rx ring: %w", err)
	}
	if err := initRing(&s.rx, s.rxMem, ringOffsets(off.Rx), uint32(cfg.RxSize), false); err != nil {
		return nil, fmt.Errorf("open xsk: rx ring: %w", err)
	}
	if s.txMem, err = mapRing(fd, unix.XDP_PGOFF_TX_RING, off.Tx.Desc+uint64(cfg.TxSize)*descSize); err != nil {
		return nil, fmt.Errorf("open xsk: mmap tx ring: %w", err)
	}
	if err := initRing(&s.tx, s.txMem, ringOffsets(off.Tx), uint32(cfg.TxSize), true); err != nil {
		return nil, fmt.Errorf("open xsk: tx ring: %w", err)
	}
	if q != nil {
		if q.fillMem, err = mapRing(fd, unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr.Desc+uint64(u.fillSize)*8); err != nil {
			return nil, fmt.Errorf("open xsk: mmap fill ring: %w", err)
		}
		if err := initRing(&q.fill, q.fillMem, ringOffsets(off.Fr), u.fillSize, true); err != nil {
			return nil, fmt.Errorf("open xsk: fill ring: %w", err)
		}
		if q.compMem, err = mapRing(fd, unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr.Desc+uint64(u.compSize)*8); err != nil {
			return nil, fmt.Errorf("open xsk: mmap completion ring: %w", err)
		}
		if err := initRing(&q.comp, q.compMem, ringOffsets(off.Cr), u.compSize, false); err != nil {
			return nil, fmt.Errorf("open xsk: completion ring: %w", err)
		}
		s.q = q
	}

	if cfg.BusyPollMicros > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BUSY_POLL, cfg.BusyPollMicros); err != nil {
			return nil, fmt.Errorf("open xsk: SO_BUSY_POLL: %w", err)
		}
	}
	if cfg.BusyPollBudget > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BUSY_POLL_BUDGET, cfg.BusyPollBudget); err != nil {
			return nil, fmt.Errorf("open xsk: SO_BUSY_POLL_BUDGET: %w", err)
		}
	}
	if cfg.PreferBusyPoll {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PREFER_BUSY_POLL, 1); err != nil {
			return nil, fmt.Errorf("open xsk: SO_PREFER_BUSY_POLL: %w", err)
		}
	}

	if err := bindRetry(fd, sa); err != nil {
		return nil, fmt.Errorf("open xsk: bind ifindex %d queue %d (flags %#x): %w", ifindex, queue, sa.Flags, err)
	}
	var opts uint32
	optLen := uint32(unsafe.Sizeof(opts))
	if err := getsockopt(fd, unix.XDP_OPTIONS, unsafe.Pointer(&opts), &optLen); err != nil {
		return nil, fmt.Errorf("open xsk: XDP_OPTIONS: %w", err)
	}
	s.zeroCopy = opts&unix.XDP_OPTIONS_ZEROCOPY != 0
	if len(u.sockets) == 0 {
		s.needWakeup = !cfg.NoNeedWakeup
	} else {
		s.needWakeup = u.sockets[0].needWakeup
	}
	s.sys.pollFD[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}

	s.q.refs++
	if q != nil {
		u.queues = append(u.queues, q)
	}
	u.sockets = append(u.sockets, s)
	ok = true
	return s, nil
}

// bindRetry binds, retrying EBUSY for a short while: after a socket on the
// same queue is closed the kernel detaches its buffer pool from the queue in
// deferred work, so an immediate re-open can briefly see the queue busy.
func bindRetry(fd int, sa *unix.SockaddrXDP) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := unix.Bind(fd, sa)
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close releases the socket: its rings are unmapped, its fd closed, and the
// fill/completion rings of its queue too when it was the queue's last socket.
// Frames the kernel had delivered or completed return to the frame stack;
// when the UMEM's last socket closes, every frame does (descriptors still held
// by the caller are void then). A later Open on the same queue works.
func (s *Socket) Close() error {
	if s.closed {
		return nil
	}
	u := s.umem
	q := s.q
	lastOnQueue := q.refs == 1
	s.reclaimOnClose(lastOnQueue)
	s.closed = true
	q.refs--

	var errs []error
	if err := unmap(&s.rxMem); err != nil {
		errs = append(errs, fmt.Errorf("close xsk: munmap rx ring: %w", err))
	}
	if err := unmap(&s.txMem); err != nil {
		errs = append(errs, fmt.Errorf("close xsk: munmap tx ring: %w", err))
	}
	if lastOnQueue {
		if err := unmap(&q.fillMem); err != nil {
			errs = append(errs, fmt.Errorf("close xsk: munmap fill ring: %w", err))
		}
		if err := unmap(&q.compMem); err != nil {
			errs = append(errs, fmt.Errorf("close xsk: munmap completion ring: %w", err))
		}
		u.removeQueue(q)
	}
	if err := unix.Close(s.fd); err != nil {
		errs = append(errs, fmt.Errorf("close xsk: close fd: %w", err))
	}
	u.removeSocket(s)
	if len(u.sockets) == 0 {
		u.stack.reset(u.frameSize)
	}
	return errors.Join(errs...)
}

// Poll waits until the RX ring has packets or timeout passes (a negative
// timeout waits forever). It asks for POLLIN only: the kernel reports POLLOUT
// whenever the TX ring is at most half full, so asking for it would turn the
// wait into a busy spin. An interrupted poll returns nil. Every call runs
// the socket's poll method, which drives TX in copy mode: with an empty TX
// ring the kernel counts tx_ring_empty_descs each time, so a loop sleeping
// here while idle makes that counter tick (dataplane.Worker sleeps in
// epoll_wait instead).
func (s *Socket) Poll(timeout time.Duration) error {
	if s.closed {
		return ErrClosed
	}
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	s.sys.pollFD[0].Revents = 0
	_, err := unix.Poll(s.sys.pollFD[:], ms)
	if err != nil && err != unix.EINTR {
		return fmt.Errorf("poll xsk: %w", err)
	}
	return nil
}

// Stats returns the kernel's XDP_STATISTICS and the Go-side ring counters. It
// may be called from any goroutine, but not concurrently with Close.
func (s *Socket) Stats() (Stats, error) {
	st := Stats{Ring: s.RingStats()}
	if s.closed {
		return st, ErrClosed
	}
	var ks unix.XDPStatistics
	n := uint32(unsafe.Sizeof(ks))
	if err := getsockopt(s.fd, unix.XDP_STATISTICS, unsafe.Pointer(&ks), &n); err != nil {
		return st, fmt.Errorf("xsk stats: %w", err)
	}
	st.RxDropped = ks.Rx_dropped
	st.RxInvalidDescs = ks.Rx_invalid_descs
	st.TxInvalidDescs = ks.Tx_invalid_descs
	st.RxRingFull = ks.Rx_ring_full
	st.RxFillRingEmptyDescs = ks.Rx_fill_ring_empty_descs
	st.TxRingEmptyDescs = ks.Tx_ring_empty_descs
	return st, nil
}

// sysKick is the real wake-up: sendto(fd, NULL, 0, MSG_DONTWAIT) for TX,
// recvfrom(fd, NULL, 0, MSG_DONTWAIT) for RX. Raw syscalls, so no error value
// is built on the data path.
func sysKick(fd int, tx bool) syscall.Errno {
	nr := uintptr(unix.SYS_RECVFROM)
	if tx {
		nr = unix.SYS_SENDTO
	}
	_, _, errno := unix.Syscall6(nr, uintptr(fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	return errno
}

func mapRing(fd int, pgoff int64, length uint64) ([]byte, error) {
	return unix.Mmap(fd, pgoff, int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
}

func unmap(b *[]byte) error {
	if *b == nil {
		return nil
	}
	err := unix.Munmap(*b)
	*b = nil
	return err
}

func setsockopt(fd, opt int, val unsafe.Pointer, size uintptr) error {
	_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(val), size, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func setsockoptInt(fd, opt, v int) error {
	return unix.SetsockoptInt(fd, unix.SOL_XDP, opt, v)
}

func getsockopt(fd, opt int, val unsafe.Pointer, size *uint32) error {
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(val), uintptr(unsafe.Pointer(size)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
