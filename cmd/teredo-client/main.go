// Command teredo-client gives a Linux host IPv6 through any Teredo server and
// relay (RFC 4380, RFC 5991, RFC 6081 symmetric-NAT support): a daemon with a
// TUN interface, and a state display modelled on Windows' `netsh interface
// teredo show state`.
//
//	teredo-client run --server teredo.example.net [--secondary ADDR|none] [--interface teredo] ...
//	teredo-client show state [-o text|json] [--socket PATH]
//	teredo-client version
//
// run stays in the foreground (systemd: Type=simple) and stops on SIGINT or
// SIGTERM, removing its address and routes. The exit status is 0 on a clean
// stop, 1 on a failure and 2 on a usage error. See docs/client.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
