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
)

// mappingSmaps returns the fields of the /proc/self/smaps block of the
// mapping that starts at addr ("Rss", "VmFlags", ...), or nil when no
// mapping starts there.
func mappingSmaps(t *testing.T, addr uintptr) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := fmt.Sprintf("%x-", addr)
	var fields map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, start) {
			fields = map[string]string{}
			continue
		}
		if fields == nil {
			continue
		}
		k, v, _ := strings.Cut(l, ":")
		fields[k] = strings.TrimSpace(v)
		if k == "VmFlags" { // the last line of the mapping's block
			return fields
		}
	}
	return fields
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
			if rss := sm["Rss"]; rss != fmt.Sprintf("%d kB", m.Bytes>>10) {
				t.Fatalf("mapping at %#x: Rss %q, want all of its %d kB", addr, rss, m.Bytes>>10)
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
	addr := regionAddr(c)
	if mappingSmaps(t, addr) == nil {
		t.Fatal("mapping not found in smaps")
	}
	c = nil
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if mappingSmaps(t, addr) == nil {
			return
		}
	}
	t.Fatalf("mapping at %#x still there after the cache became unreachable", addr)
}
