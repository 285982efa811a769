//go:build linux

package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Capture is a running tcpdump inside one of the lab's namespaces.
type Capture struct {
	p    *process
	path string
}

var captureSeq atomic.Uint64

// StartCapture runs tcpdump on iface inside node, writing every packet
// matching the optional BPF filter words to a pcap file in the work
// directory. It returns once tcpdump listens.
func (l *Lab) StartCapture(ctx context.Context, node Node, iface string, filter ...string) (*Capture, error) {
	name := fmt.Sprintf("capture-%s-%s-%d", node, iface, captureSeq.Add(1))
	path := l.dir + "/" + name + ".pcap"
	// -Z root: tcpdump would otherwise switch to user tcpdump before
	// opening the file. -U: write each packet at once.
	argv := append([]string{"tcpdump", "-i", iface, "-n", "-U", "-Z", "root", "-w", path}, filter...)
	p, err := startProcess(l.dir, name, l.Namespace(node), argv)
	if err != nil {
		return nil, err
	}
	l.addProcess(p)
	c := &Capture{p: p, path: path}
	err = waitFor(ctx, 10*time.Second, "tcpdump on "+iface+" in "+string(node), func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("tcpdump exited: %v: %s", p.err, p.logTail(1000))
		}
		b, _ := os.ReadFile(p.logPath)
		return strings.Contains(string(b), "listening on"), nil
	})
	if err != nil {
		p.stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	return c, nil
}

// Path is the pcap file.
func (c *Capture) Path() string { return c.path }

// Stop ends tcpdump (which flushes its file) and returns the captured frames.
func (c *Capture) Stop() ([]Frame, error) {
	if err := c.p.stop(syscall.SIGINT, 3*time.Second); err != nil {
		return nil, err
	}
	f, err := os.Open(c.path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	defer f.Close()
	frames, err := ReadPcap(f)
	if err != nil {
		return frames, fmt.Errorf("read capture %s: %w", c.path, err)
	}
	return frames, nil
}
