//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/teredorelay/teredorelay/internal/netnsutil"
)

// proc is a system under test started with "ip netns exec".
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{}
	err     error
}

func startProc(dir, name, ns string, argv []string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: log file: %w", name, err)
	}
	cmd := netnsutil.Command(context.Background(), ns, argv...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
func (p *proc) stop(grace time.Duration) error {
	defer p.log.Close()
	if p.exited() {
		return p.exitErr()
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within %v after SIGTERM; killed", p.name, grace)
	}
	// Children that outlived the leader (a forked worker).
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	return nil
}

func (p *proc) exitErr() error {
	if p.err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
		return nil // our SIGTERM/SIGKILL
	}
	return p.err
}

// tail returns the end of the process's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// cpu returns the user+system CPU time of the process and its descendants.
func (p *proc) cpu() time.Duration {
	return treeCPU(p.cmd.Process.Pid)
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTick = 100

func treeCPU(root int) time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	parent := map[int]int{}
	ticks := map[int]uint64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the ")" of the command name: state ppid ... utime(14) stime(15).
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		parent[pid] = ppid
		ticks[pid] = ut + st
	}
	var total uint64
	for pid, t := range ticks {
		for q := pid; q > 1; q = parent[q] {
			if q == root {
				total += t
				break
			}
		}
	}
	return time.Duration(total) * time.Second / clockTick
}

// cpuTimes are the machine's CPU times from /proc/stat, summed over CPUs,
// in USER_HZ ticks (clockTick per second).
type cpuTimes struct {
	busy, total, softirq uint64
}

// readCPUTimes reads the "cpu" line of /proc/stat: busy is everything but
// idle and iowait; softirq is the softirq column (with this kernel's
// tick-based accounting, a tick that interrupts softirq work counts there,
// whichever task it ran on).
func readCPUTimes() cpuTimes {
	var c cpuTimes
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest times are already in user
			break
		}
		c.total += n
		if i != 3 && i != 4 { // idle, iowait
			c.busy += n
		}
		if i == 6 {
			c.softirq = n
		}
	}
	return c
}

// ticks converts USER_HZ ticks to a duration.
func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / clockTick }
