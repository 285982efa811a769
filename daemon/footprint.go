package daemon

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/config"
)

// Footprint is the memory a configuration takes when the daemon starts:
// -check-config prints it.
type Footprint struct {
	// UMEMLocked is the packet memory the kernel pins (RLIMIT_MEMLOCK or
	// CAP_IPC_LOCK): umem.frames × umem.frame_size per queue, twice per
	// queue for a two-armed relay with separate UMEMs. UMEMs is how many.
	UMEMLocked uint64
	UMEMs      int
	// UMEMMayDouble: two-armed with umem.sharing auto, a kernel that
	// refuses XDP_SHARED_UMEM gets separate UMEMs, twice UMEMLocked.
	UMEMMayDouble bool
	// PeerTable is the peer cache's entries and index, allocated at start;
	// the OS maps its pages as peers arrive.
	PeerTable uint64
	// QueueArena is the preallocated store of packets queued for pending
	// peers (peers.queue_bytes_total) with its chunk index.
	QueueArena uint64
	// Measured: PeerTable and QueueArena were measured by building the
	// cache (false: this host's memory is smaller than the bound, so they
	// are the documented upper bound of 128 bytes per entry instead).
	Measured bool
}

// Total is the sum of the three.
func (f Footprint) Total() uint64 { return f.UMEMLocked + f.PeerTable + f.QueueArena }

// maxCacheBytesPerEntry bounds the peer cache's memory per entry (asserted
// by the cache package's TestMemoryPerEntry and TestTenMillion).
const maxCacheBytesPerEntry = 128

// queueChunk is the cache's queue storage unit; each chunk also has a
// 4-byte link and a 2-byte length.
const queueChunk, queueChunkIndex = 128, 6

// MeasureFootprint computes cfg's memory. The peer cache is built exactly
// as the daemon builds it and its allocation measured (Go heap plus the
// mapping a large cache keeps its table in; the cache makes that mapping
// resident when it is created, so for a moment this costs what the daemon
// will), unless its upper bound exceeds this host's memory, where building
// it could fail.
func MeasureFootprint(cfg *config.Config) (Footprint, error) {
	f := Footprint{UMEMLocked: umemBytes(cfg), UMEMs: len(cfg.Queues)}
	if cfg.Interfaces.TwoArmed() {
		switch cfg.UMEM.Sharing {
		case config.SharingSeparate:
			f.UMEMs *= 2
		case config.SharingAuto:
			f.UMEMMayDouble = true
		}
	}
	chunks := uint64(cfg.Peers.QueueBytesTotal) / queueChunk
	bound := uint64(cfg.Peers.Capacity)*maxCacheBytesPerEntry + chunks*(queueChunk+queueChunkIndex)
	if mem, ok := hostMemory(); ok && bound > mem {
		f.PeerTable = uint64(cfg.Peers.Capacity) * maxCacheBytesPerEntry
		f.QueueArena = chunks * (queueChunk + queueChunkIndex)
		return f, nil
	}
	total, err := measureCache(cfg.Peers.Capacity, cfg.Peers.QueueBytesPerPeer, cfg.Peers.QueueBytesTotal)
	if err != nil {
		return f, fmt.Errorf("config: peers: %w", err)
	}
	arena, err := measureCache(1, cfg.Peers.QueueBytesPerPeer, cfg.Peers.QueueBytesTotal)
	if err != nil {
		return f, fmt.Errorf("config: peers: %w", err)
	}
	f.QueueArena, f.PeerTable, f.Measured = arena, total-min(arena, total), true
	return f, nil
}

// measureCache builds a cache as the daemon does and returns the bytes New
// allocated: on the Go heap, plus its own mapping when it has one.
func measureCache(capacity, perPeer int, total int64) (uint64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := cache.New(cache.Config{Capacity: capacity, PeerQueueBytes: perPeer, QueueBytes: total})
	runtime.ReadMemStats(&after)
	if err != nil {
		return 0, err
	}
	n := after.TotalAlloc - before.TotalAlloc
	if m := c.Memory(); m.Mapped {
		n += uint64(m.Bytes)
	}
	runtime.KeepAlive(c)
	return n, nil
}

// hostMemory returns MemTotal + SwapTotal from /proc/meminfo.
func hostMemory() (uint64, bool) {
	fh, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer fh.Close()
	var sum uint64
	found := false
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "MemTotal" && key != "SwapTotal") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, false
		}
		sum += kb << 10
		found = true
	}
	return sum, found
}

// umemBytes is the packet memory the kernel pins for the configured queues:
// one UMEM per queue, two in two-armed mode with umem.sharing separate (auto
// may need two as well; the socket step reports that case).
func umemBytes(cfg *config.Config) uint64 {
	perQueue := uint64(cfg.UMEM.Frames) * uint64(cfg.UMEM.FrameSize)
	if cfg.Interfaces.TwoArmed() && cfg.UMEM.Sharing == config.SharingSeparate {
		perQueue *= 2
	}
	return perQueue * uint64(len(cfg.Queues))
}

// IEC formats a byte count for people: "512 B", "16 MiB", "1.1 GiB".
func IEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if n%div == 0 || v >= 100 {
		return fmt.Sprintf("%.0f %ciB", v, "KMGTP"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[exp])
}
