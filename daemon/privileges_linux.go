package daemon

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/config"
)

// capability is one Linux capability the daemon needs, with what needs it.
type capability struct {
	bit  uint
	name string
	why  string
	// sysAdmin: CAP_SYS_ADMIN also grants what this capability is needed
	// for (the kernel's bpf_capable and the BPF networking checks accept
	// it).
	sysAdmin bool
}

// neededCapabilities are what deploy/teredo-relayd.service grants, less
// CAP_IPC_LOCK, which checkMemlock handles.
var neededCapabilities = []capability{
	{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN", "attach XDP and create the XSKMAP", true},
	{unix.CAP_NET_RAW, "CAP_NET_RAW", "open AF_XDP and raw sockets", false},
	{unix.CAP_BPF, "CAP_BPF", "load the XDP program and its maps", true},
}

// privileges is what the process holds: its effective capabilities and its
// RLIMIT_MEMLOCK soft limit in bytes.
type privileges struct {
	effective uint64
	memlock   uint64
}

func (p privileges) has(bit uint) bool { return p.effective&(1<<bit) != 0 }

// currentPrivileges reads the calling thread's effective capabilities and
// RLIMIT_MEMLOCK.
func currentPrivileges() (privileges, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return privileges{}, fmt.Errorf("read capabilities: %w", err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return privileges{}, fmt.Errorf("read RLIMIT_MEMLOCK: %w", err)
	}
	return privileges{effective: uint64(data[0].Effective) | uint64(data[1].Effective)<<32, memlock: lim.Cur}, nil
}

// checkPrivileges refuses to start, in one line naming every missing
// capability and what needs it, when the process lacks a privilege the data
// plane needs. Without it the first failing step would report a kernel error
// several layers deep (EPERM from the bpf syscall, ENOBUFS for memlock).
func checkPrivileges(cfg *config.Config, p privileges) error {
	var missing []string
	for _, c := range neededCapabilities {
		if p.has(c.bit) || (c.sysAdmin && p.has(unix.CAP_SYS_ADMIN)) {
			continue
		}
		missing = append(missing, fmt.Sprintf("%s (%s)", c.name, c.why))
	}
	if need := umemBytes(cfg); !p.has(unix.CAP_IPC_LOCK) && p.memlock != unix.RLIM_INFINITY && p.memlock < need {
		missing = append(missing, fmt.Sprintf("CAP_IPC_LOCK (the UMEMs lock %s but RLIMIT_MEMLOCK is %s: grant it, or set LimitMEMLOCK=infinity, or lower umem.frames)",
			sizeString(need), sizeString(p.memlock)))
	}
	if len(missing) == 0 {
		return nil
	}
	word := "capability"
	if len(missing) > 1 {
		word = "capabilities"
	}
	return fmt.Errorf("missing %s %s; deploy/teredo-relayd.service grants CAP_NET_ADMIN CAP_NET_RAW CAP_BPF CAP_IPC_LOCK",
		word, strings.Join(missing, ", "))
}

func sizeString(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
