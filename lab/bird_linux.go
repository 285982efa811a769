//go:build linux

package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// startBird runs BIRD 2 in the foreground inside namespace ns on a copy of
// the configuration file conf (one of the shipped examples) in which each
// key of replace is replaced by its value (every key must occur) and
// syslog logging goes to the process log instead. The copy is dir/name.conf;
// BIRD's control socket is socket. It returns once birdc gets an answer.
func startBird(dir, name, ns, conf, socket string, replace map[string]string) (*process, error) {
	b, err := os.ReadFile(conf)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	text := strings.Replace(string(b), "log syslog all;", "log stderr all;", 1)
	for from, to := range replace {
		if !strings.Contains(text, from) {
			return nil, fmt.Errorf("start %s: %s lacks %q", name, conf, from)
		}
		text = strings.ReplaceAll(text, from, to)
	}
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p, err := startProcess(dir, name, ns, []string{"bird", "-f", "-c", path, "-s", socket, "-P", filepath.Join(dir, name+".pid")})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = waitFor(ctx, 10*time.Second, name+" control socket", func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("%s exited: %v\n%s", name, p.err, p.logTail(2000))
		}
		return exec.Command("birdc", "-s", socket, "show", "status").Run() == nil, nil
	})
	if err != nil {
		p.stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	return p, nil
}

// announcingRelayd describes a one-armed teredo-relayd that drives a BIRD
// on its box (announce.enabled), its files in Dir.
type announcingRelayd struct {
	Iface, IPv4, IPv6                              string
	Dir, APISocket, Include, BirdSocket, DrainFile string
	Rise                                           time.Duration
}

// yaml returns the daemon's configuration (metrics on 127.0.0.1:9542 of
// the box's namespace, birdc at /usr/sbin/birdc).
func (c announcingRelayd) yaml() string {
	return fmt.Sprintf(`interfaces: {one_armed: %s}
ipv4: {address: %s}
ipv6: {address: "%s"}
bubbles: {key_file: %s/bubble.key}
api: {socket: %s}
metrics: {listen: "127.0.0.1:9542"}
announce:
  enabled: true
  include_file: %s
  birdc: /usr/sbin/birdc
  socket: %s
  rise: %s
  timeout: 5s
drain: {state_file: %s}
`, c.Iface, c.IPv4, c.IPv6, c.Dir, c.APISocket, c.Include, c.BirdSocket, c.Rise, c.DrainFile)
}
