//go:build linux

package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// fillRelaydEnv records the facts a relay configuration needs.
func (l *Lab) fillRelaydEnv() error {
	v4, v6 := l.RelayIfaces()
	coreV4, coreV6 := coreRelay, coreRelay
	if l.opts.Mode == TwoArmed {
		coreV4, coreV6 = coreRelayV4, coreRelayV6
	}
	mac4, err := l.gatewayMAC(coreV4)
	if err != nil {
		return err
	}
	mac6, err := l.gatewayMAC(coreV6)
	if err != nil {
		return err
	}
	l.relayEnv = RelaydEnv{
		Namespace:      l.Namespace(Relay),
		Mode:           l.opts.Mode,
		Queues:         l.opts.Queues,
		IPv4Iface:      v4,
		IPv6Iface:      v6,
		IPv4Addr:       RelayIPv4,
		Port:           TeredoPort,
		IPv6Addr:       RelayIPv6,
		IPv4Gateway:    RelayGatewayV4,
		IPv6Gateway:    RelayGatewayV6,
		IPv4GatewayMAC: mac4,
		IPv6GatewayMAC: mac6,
		Dir:            l.dir,
		ConfigPath:     l.dir + "/relayd.yaml",
		ReadyFile:      l.dir + "/relayd.ready",
		APISocket:      l.dir + "/relayd.sock",
		BubbleKeyFile:  l.dir + "/relayd-bubble.key",
		MetricsListen:  "127.0.0.1:9542",
	}
	return nil
}

// startRelayd writes the daemon's configuration, starts it inside the relay
// namespace and waits for its ready file.
func (l *Lab) startRelayd(ctx context.Context) error {
	env := l.relayEnv
	conf, err := l.opts.RelaydConfig(env)
	if err != nil {
		return fmt.Errorf("teredo-relayd config: %w", err)
	}
	if err := os.WriteFile(env.ConfigPath, conf, 0o644); err != nil {
		return fmt.Errorf("write teredo-relayd config: %w", err)
	}
	argv := append([]string{l.opts.RelaydBinary}, l.opts.RelaydArgs(env)...)
	p, err := startProcess(l.dir, "relay", env.Namespace, argv)
	if err != nil {
		return err
	}
	l.addProcess(p)
	l.relay = p
	l.logf("started teredo-relayd in %s (pid %d): %s", env.Namespace, p.cmd.Process.Pid, strings.Join(argv, " "))
	err = waitFor(ctx, l.opts.RelaydReadyTimeout, "teredo-relayd ready file "+env.ReadyFile, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("teredo-relayd exited: %v", p.err)
		}
		return fileExists(env.ReadyFile)
	})
	if err != nil {
		return fmt.Errorf("%w\nconfig:\n%s\nrelay log:\n%s", err, conf, p.logTail(4000))
	}
	return nil
}

// BuildCommand compiles the main package at moduleDir/pkg (e.g.
// "./cmd/teredo-relayd") into outDir and returns the binary's path.
func BuildCommand(ctx context.Context, moduleDir, pkg, outDir string) (string, error) {
	name := pkg[strings.LastIndexByte(pkg, '/')+1:]
	out := outDir + "/" + name
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, pkg)
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", pkg, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
