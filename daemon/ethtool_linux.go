package daemon

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolGGRO is ETHTOOL_GGRO (linux/ethtool.h): read the GRO flag.
const ethtoolGGRO = 0x2b

// groEnabled reports whether generic receive offload is on for iface
// (SIOCETHTOOL ETHTOOL_GGRO, which needs no privilege).
func groEnabled(iface string) (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("ethtool socket: %w", err)
	}
	defer unix.Close(fd)
	v := struct{ cmd, data uint32 }{cmd: ethtoolGGRO}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [24 - unsafe.Sizeof(uintptr(0))]byte
	}
	copy(ifr.name[:unix.IFNAMSIZ-1], iface)
	ifr.data = unsafe.Pointer(&v)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&v)
	if errno != 0 {
		return false, fmt.Errorf("ethtool GRO flag of %s: %w", iface, errno)
	}
	return v.data != 0, nil
}
