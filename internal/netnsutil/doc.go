// Package netnsutil holds the network-namespace helpers the lab, the
// benchmark topology and namespace tests share: running a function inside a
// named namespace (one "ip netns add" created), running a program inside one,
// and asking whether a UDP socket is bound there.
//
// Everything here is Linux-only; the package has no code on other systems.
package netnsutil
