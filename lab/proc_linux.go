//go:build linux

package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/teredorelay/teredorelay/internal/netnsutil"
)

// process is a long-running program the lab started inside a namespace.
type process struct {
	name    string // short label, also the log file's base name
	ns      string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has been reaped
	err     error         // Wait's result, valid after done
}

// startProcess runs argv inside namespace ns with "ip netns exec", in its own
// process group, stdout and stderr going to dir/name.log. The process gets
// SIGTERM if the lab's process dies (Pdeathsig), so an aborted test does not
// leave daemons behind.
func startProcess(dir, name, ns string, argv []string) (*process, error) {
	logPath := dir + "/" + name + ".log"
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", name, err)
	}
	defer f.Close()
	cmd := netnsutil.Command(context.Background(), ns, argv...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, strings.Join(argv, " "), err)
	}
	p := &process{name: name, ns: ns, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process group, then SIGKILL after grace.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: signal %v: %w", p.name, sig, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: SIGKILL: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("stop %s: pid %d did not exit after SIGKILL", p.name, pgid)
	}
}

// logTail returns the last n bytes of the process's log.
func (p *process) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

// namespacePIDs lists the processes living in namespace ns.
func namespacePIDs(ns string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids %s: %w", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killNamespace SIGKILLs every process still living in namespace ns (all of
// them were started by the lab: nothing else enters its namespaces) and
// waits up to 3 s for them to go.
func killNamespace(ns string) error {
	pids, err := namespacePIDs(ns)
	if err != nil || len(pids) == 0 {
		return err
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill pid %d in %s: %w", pid, ns, err)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		left, err := namespacePIDs(ns)
		if err != nil {
			return err
		}
		if len(left) == 0 || allZombies(left) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("processes still alive in %s after SIGKILL", ns)
}

// allZombies reports whether every pid has exited and only waits for its
// parent to reap it (an orphan of an earlier run under a PID 1 that does
// not reap): such a process holds no namespace resources.
func allZombies(pids []int) bool {
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) || s[i+2] != 'Z' {
			return false
		}
	}
	return true
}
