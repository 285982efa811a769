//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "teredo-lab: needs Linux (network namespaces, veths, TUN devices)")
	os.Exit(1)
}
