// Command teredo-relayd is the Teredo relay daemon (RFC 4380 relay role) with
// an XDP/AF_XDP data plane. See deploy/teredo-relayd.example.yaml for the
// configuration and deploy/teredo-relayd.service for the systemd unit.
//
//	teredo-relayd -config /etc/teredo-relayd/teredo-relayd.yaml [-ready-file PATH]
//	teredo-relayd -check-config -config FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/daemon"
)

const defaultConfig = "/etc/teredo-relayd/teredo-relayd.yaml"

func main() {
	configPath := flag.String("config", defaultConfig, "configuration file (YAML)")
	readyFile := flag.String("ready-file", "", "file created once the relay forwards packets (removed on exit)")
	check := flag.Bool("check-config", false, "validate the configuration file and exit")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments %q (flags only)", flag.Args()))
	}
	ver, rev := buildInfo()
	switch {
	case *version:
		fmt.Printf("teredo-relayd %s (%s)\n", ver, rev)
		return
	case *check:
		if _, err := config.Load(*configPath); err != nil {
			fail(err)
		}
		fmt.Printf("%s: configuration OK\n", *configPath)
		return
	}
	if err := daemon.Run(context.Background(), daemon.Options{
		ConfigPath: *configPath, ReadyFile: *readyFile, Version: ver, Revision: rev,
	}); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "teredo-relayd: %v\n", err)
	os.Exit(1)
}

func buildInfo() (version, revision string) {
	version, revision = "devel", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return
}
