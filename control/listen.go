package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// SocketMode is the permission of the control socket: owner and group only.
const SocketMode = 0o660

// Listen creates the unix socket at path with mode 0660 (and group, when not
// empty), creating its directory (0750) if needed. A stale socket left by a
// dead daemon is replaced; a socket a live daemon answers on is an error.
func Listen(path, group string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create control socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another process is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
	}
	// The directory is 0750, so the moment between bind (mode from the umask)
	// and chmod exposes the socket to nobody outside owner and group.
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(path, SocketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod control socket: %w", err)
	}
	if group != "" {
		if err := chgrp(path, group); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

func chgrp(path, group string) error {
	g, err := user.LookupGroup(group)
	if err != nil {
		var unknown user.UnknownGroupError
		if !errors.As(err, &unknown) {
			return fmt.Errorf("look up control socket group %s: %w", group, err)
		}
		g, err = user.LookupGroupId(group)
		if err != nil {
			return fmt.Errorf("look up control socket group %s: %w", group, err)
		}
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return fmt.Errorf("control socket group %s: gid %q: %w", group, g.Gid, err)
	}
	if err := os.Chown(path, -1, gid); err != nil {
		return fmt.Errorf("chgrp control socket to %s: %w", group, err)
	}
	return nil
}
