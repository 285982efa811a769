package daemon

import (
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/config"
)

func capSet(bits ...uint) uint64 {
	var s uint64
	for _, b := range bits {
		s |= 1 << b
	}
	return s
}

func TestCheckPrivileges(t *testing.T) {
	oneArmed, err := config.Parse([]byte("interfaces: {one_armed: ix0}\nqueues: 2\nipv4: {address: 192.0.2.1}\nipv6: {address: 2001:db8::1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	separate, err := config.Parse([]byte("interfaces: {ipv4_side: eth0, ipv6_side: eth1}\numem: {sharing: separate}\nipv4: {address: 192.0.2.1}\nipv6: {address: 2001:db8::1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	all := capSet(unix.CAP_NET_ADMIN, unix.CAP_NET_RAW, unix.CAP_BPF, unix.CAP_IPC_LOCK)
	const tail = "; deploy/teredo-relayd.service grants CAP_NET_ADMIN CAP_NET_RAW CAP_BPF CAP_IPC_LOCK"
	tests := []struct {
		name string
		cfg  *config.Config
		p    privileges
		want string // "" = accepted
	}{
		{"the unit's set", oneArmed, privileges{all, 8 << 20}, ""},
		{"root", oneArmed, privileges{^uint64(0), 8 << 20}, ""},
		{"sys_admin stands in for bpf, net_admin", oneArmed,
			privileges{capSet(unix.CAP_SYS_ADMIN, unix.CAP_NET_RAW, unix.CAP_IPC_LOCK), 0}, ""},
		{"no ipc_lock, memlock unlimited", oneArmed,
			privileges{all &^ capSet(unix.CAP_IPC_LOCK), unix.RLIM_INFINITY}, ""},
		{"no ipc_lock, memlock exactly enough (2 queues × 16 MiB)", oneArmed,
			privileges{all &^ capSet(unix.CAP_IPC_LOCK), 32 << 20}, ""},
		{"no bpf", oneArmed, privileges{all &^ capSet(unix.CAP_BPF), 0},
			"missing capability CAP_BPF (load the XDP program and its maps)" + tail},
		{"no net_admin", oneArmed, privileges{all &^ capSet(unix.CAP_NET_ADMIN), 0},
			"missing capability CAP_NET_ADMIN (attach XDP and create the XSKMAP)" + tail},
		{"no net_raw, sys_admin does not replace it", oneArmed,
			privileges{capSet(unix.CAP_SYS_ADMIN, unix.CAP_IPC_LOCK), 0},
			"missing capability CAP_NET_RAW (open AF_XDP and raw sockets)" + tail},
		{"no ipc_lock, memlock too low", oneArmed,
			privileges{all &^ capSet(unix.CAP_IPC_LOCK), 8 << 20},
			"missing capability CAP_IPC_LOCK (the UMEMs lock 32 MiB but RLIMIT_MEMLOCK is 8 MiB: grant it, or set LimitMEMLOCK=infinity, or lower umem.frames)" + tail},
		{"separate UMEMs count twice", separate,
			privileges{all &^ capSet(unix.CAP_IPC_LOCK), 16 << 20},
			"missing capability CAP_IPC_LOCK (the UMEMs lock 32 MiB but RLIMIT_MEMLOCK is 16 MiB: grant it, or set LimitMEMLOCK=infinity, or lower umem.frames)" + tail},
		{"none", oneArmed, privileges{0, 64 << 10},
			"missing capabilities CAP_NET_ADMIN (attach XDP and create the XSKMAP), CAP_NET_RAW (open AF_XDP and raw sockets), " +
				"CAP_BPF (load the XDP program and its maps), " +
				"CAP_IPC_LOCK (the UMEMs lock 32 MiB but RLIMIT_MEMLOCK is 64 KiB: grant it, or set LimitMEMLOCK=infinity, or lower umem.frames)" + tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPrivileges(tt.cfg, tt.p)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCurrentPrivilegesAsRoot(t *testing.T) {
	p, err := currentPrivileges()
	if err != nil {
		t.Fatal(err)
	}
	if unix.Geteuid() == 0 && !p.has(unix.CAP_NET_RAW) {
		t.Skip("root without CAP_NET_RAW (a restricted container)")
	}
	if unix.Geteuid() == 0 && !p.has(unix.CAP_NET_ADMIN) {
		t.Errorf("root's effective set %#x lacks CAP_NET_ADMIN: capget is read wrongly", p.effective)
	}
}

// The systemd unit must grant every capability the start check demands, and
// no other.
func TestUnitGrantsNeededCapabilities(t *testing.T) {
	b, err := os.ReadFile("../deploy/teredo-relayd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"AmbientCapabilities=", "CapabilityBoundingSet="} {
		var granted []string
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), key); ok {
				granted = append(granted, strings.Fields(v)...)
			}
		}
		needed := []string{"CAP_IPC_LOCK"}
		for _, c := range neededCapabilities {
			needed = append(needed, c.name)
		}
		for _, name := range needed {
			if !slices.Contains(granted, name) {
				t.Errorf("deploy/teredo-relayd.service %s lacks %s (granted %v)", key, name, granted)
			}
		}
		// Nothing beyond: the XDP program loads without CAP_PERFMON
		// (bpf.TestLoadWithoutPerfmon), and no step needs CAP_SYS_ADMIN.
		for _, name := range granted {
			if !slices.Contains(needed, name) {
				t.Errorf("deploy/teredo-relayd.service %s grants %s, which no start step needs (needed %v)", key, name, needed)
			}
		}
	}
}
