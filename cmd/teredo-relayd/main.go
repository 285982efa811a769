// Command teredo-relayd is the Teredo relay daemon (RFC 4380 relay role) with
// an XDP/AF_XDP data plane. See deploy/teredo-relayd.example.yaml for the
// configuration, deploy/teredo-relayd.service for the systemd unit and
// docs/man/teredo-relayd.8.md for the manual page.
//
//	teredo-relayd [-config FILE] [-ready-file PATH]
//	teredo-relayd -check-config [-config FILE] [-skip-host-checks]
//	teredo-relayd -version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/teredorelay/teredorelay/daemon"
	"github.com/teredorelay/teredorelay/internal/buildinfo"
)

const defaultConfig = "/etc/teredo-relayd/teredo-relayd.yaml"

// options are the command line; newFlags defines every flag (the manual
// page's OPTIONS must list each one: a test checks).
type options struct {
	config, readyFile        string
	check, skipHost, version bool
}

func newFlags(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("teredo-relayd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.config, "config", defaultConfig, "configuration file (YAML)")
	fs.StringVar(&o.readyFile, "ready-file", "", "file created (with the PID) once the relay forwards packets; removed on exit")
	fs.BoolVar(&o.check, "check-config", false, "validate the configuration file against this host, print the memory it takes, and exit")
	fs.BoolVar(&o.skipHost, "skip-host-checks", false, "with -check-config: do not check interfaces and addresses on this host (a file for another host)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: teredo-relayd [-config FILE] [-ready-file PATH]\n"+
			"       teredo-relayd -check-config [-config FILE] [-skip-host-checks]\n"+
			"       teredo-relayd -version\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nexit status: 0 clean stop (SIGTERM) or valid configuration, 1 error, 2 usage error\n")
	}
	return fs
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlags(&o, stderr)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "teredo-relayd: unexpected arguments %q (flags only)\n", fs.Args())
		return 2
	}
	switch {
	case o.version:
		fmt.Fprintln(stdout, buildinfo.String("teredo-relayd"))
		return 0
	case o.check:
		err := daemon.CheckConfig(stdout, o.config, daemon.CheckOptions{SkipHost: o.skipHost})
		return exit(stderr, err)
	case o.skipHost:
		fmt.Fprintln(stderr, "teredo-relayd: -skip-host-checks goes with -check-config")
		return 2
	}
	return exit(stderr, daemon.Run(context.Background(), daemon.Options{
		ConfigPath: o.config, ReadyFile: o.readyFile, Version: buildinfo.Version(), Revision: buildinfo.Revision(),
	}))
}

func exit(stderr io.Writer, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "teredo-relayd: %v\n", err)
		return 1
	}
	return 0
}
