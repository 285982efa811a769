package cache

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mappingSmaps returns the fields of the /proc/self/smaps block of the
// mapping that holds addr ("Rss", "VmFlags", ...), or nil when none does.
// The kernel may have merged the cache's mapping with a neighbour of the
// same flags, so the block may start before addr.
func mappingSmaps(t *testing.T, addr uintptr) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fields map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		var start, end uintptr
		if n, _ := fmt.Sscanf(l, "%x-%x ", &start, &end); n == 2 {
			if fields != nil {
				return fields
			}
			if start <= addr && addr < end {
				fields = map[string]string{}
			}
			continue
		}
		if fields == nil {
			continue
		}
		k, v, _ := strings.Cut(l, ":")
		fields[k] = strings.TrimSpace(v)
	}
	return fields
}

// resident reports whether every page of [addr, addr+n) is mapped and in
// memory (mincore: ENOMEM when part of the range is not mapped).
func resident(addr uintptr, n int64) (mapped, all bool) {
	pages := make([]byte, (n+basePageSize-1)/basePageSize)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, addr, uintptr(n), uintptr(unsafe.Pointer(&pages[0]))); errno != 0 {
		return false, false
	}
	for _, p := range pages {
		if p&1 == 0 {
			return true, false
		}
	}
	return true, true
}

func regionAddr(c *Cache) uintptr { return uintptr(unsafe.Pointer(&c.shards[0].entries[0])) }

// A cache of at least minMappedBytes lives in a mapping of its own, aligned
// to a huge page and advised for huge pages (VmFlags "hg"), or, with
// NoHugePages, advised never to use them ("nh", also under THP "always").
func TestMappingAdvice(t *testing.T) {
	for _, tt := range []struct {
		name   string
		noHuge bool
		flag   string
	}{{"huge pages", false, " hg"}, {"no huge pages", true, " nh"}} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTest(t, Config{Capacity: 1 << 16, QueueBytes: 128, NoHugePages: tt.noHuge})
			m := c.Memory()
			if !m.Mapped || m.HugePages == tt.noHuge || m.Bytes%hugePageSize != 0 {
				t.Fatalf("memory %+v", m)
			}
			addr := regionAddr(c)
			if addr%hugePageSize != 0 {
				t.Fatalf("region at %#x is not aligned to a huge page", addr)
			}
			sm := mappingSmaps(t, addr)
			if fl := sm["VmFlags"]; !strings.Contains(" "+fl+" ", tt.flag+" ") {
				t.Fatalf("mapping at %#x: VmFlags %q, want %q", addr, fl, tt.flag)
			}
			// Populated by New: resident before any peer is inserted.
			if mapped, all := resident(addr, m.Bytes); !mapped || !all {
				t.Fatalf("mapping at %#x: mapped %v, every page resident %v; want both", addr, mapped, all)
			}
			k := key(1)
			trusted(c, &k)
			if _, ok := c.LookupTx(&k, 1, 2*sec, 30*sec); !ok {
				t.Fatal("lookup failed")
			}
			runtime.KeepAlive(c)
		})
	}
}

// Without THP (madvise refused, as on a kernel built without it) the cache
// keeps its mapping on ordinary pages and works.
func TestHugePagesRefused(t *testing.T) {
	orig := madvise
	madvise = func([]byte, int) error { return errors.New("EINVAL") }
	defer func() { madvise = orig }()
	c := newTest(t, Config{Capacity: 1 << 16, QueueBytes: 128})
	if m := c.Memory(); !m.Mapped || m.HugePages {
		t.Fatalf("memory %+v", m)
	}
	for i := range 1000 {
		k := key(uint64(i))
		trusted(c, &k)
	}
	for i := range 1000 {
		k := key(uint64(i))
		if c.ObserveRx(&k, mapA, 1, 2*sec) != RxTrusted {
			t.Fatalf("peer %d not found", i)
		}
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
}

// Small caches stay on the Go heap.
func TestSmallCacheOnHeap(t *testing.T) {
	c := newTest(t, Config{Capacity: 1024, QueueBytes: 128})
	if m := c.Memory(); m.Mapped || m.HugePages || m.Bytes < 1024*int64(unsafe.Sizeof(entry{})) {
		t.Fatalf("memory %+v", m)
	}
}

// The mapping is released once the cache is unreachable.
func TestMappingReleased(t *testing.T) {
	c := newTest(t, Config{Capacity: 1 << 16, QueueBytes: 128})
	addr, n := regionAddr(c), c.Memory().Bytes
	if mapped, _ := resident(addr, n); !mapped {
		t.Fatal("mapping not found")
	}
	c = nil
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if mapped, _ := resident(addr, n); !mapped {
			return
		}
	}
	t.Fatalf("mapping at %#x still there after the cache became unreachable", addr)
}
