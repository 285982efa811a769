package miredo

import (
	"fmt"
	"net/netip"
	"os/user"
)

// User is the unprivileged user the Miredo daemons switch to: "miredo" where
// it exists (Debian builds with --enable-miredo-user), "nobody" otherwise.
func User() string {
	if _, err := user.Lookup("miredo"); err == nil {
		return "miredo"
	}
	return "nobody"
}

// Argv is the command line that runs prog (miredo or miredo-server) in the
// foreground with configuration file conf, PID file pidFile and User. Each
// instance needs its own PID file: the default /run/miredo.pid is shared by
// every namespace, and a second instance would refuse to start.
func Argv(prog, conf, pidFile string) []string {
	return []string{prog, "-f", "-c", conf, "-p", pidFile, "-u", User()}
}

// ServerConfig is a miredo-server.conf binding the primary and secondary
// server addresses.
func ServerConfig(primary, secondary netip.Addr) string {
	return fmt.Sprintf("ServerBindAddress %s\nServerBindAddress2 %s\n", primary, secondary)
}

// ClientConfig is a miredo.conf for a Teredo client on TUN device tun that
// qualifies against server.
func ClientConfig(tun string, server netip.Addr) string {
	return fmt.Sprintf("RelayType client\nInterfaceName %s\nServerAddress %s\n", tun, server)
}

// RelayConfig is a miredo.conf for a relay in cone mode (indirect bubbles
// only) on TUN device tun, bound to bind.
func RelayConfig(tun string, bind netip.AddrPort) string {
	return fmt.Sprintf("RelayType cone\nInterfaceName %s\nBindAddress %s\nBindPort %d\n", tun, bind.Addr(), bind.Port())
}
