package control

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/control/api"
)

// Two levels of access to the control socket. Reading (status, stats, the
// peer table) needs only a connection: the socket's mode 0660 and its
// group decide who may connect. Changing the relay (drain, undrain, reload)
// needs, checked per connection with SO_PEERCRED: root, the daemon's own
// user, or membership of Config.AdminGroup. Every change logs who asked
// (uid, user, pid); a refusal is logged as well and answered 403
// (api.CodeForbidden).

// Peer is the process at the other end of a control connection, from
// SO_PEERCRED when it connected.
type Peer struct {
	PID      int32
	UID, GID uint32
}

type peerKey struct{}

// WithPeer returns ctx carrying p as the caller of a request. The server
// sets it on every connection of its unix socket; tests of the handler use
// it to act as a given caller.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFrom returns the caller WithPeer attached to ctx.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// connContext attaches the credentials of a unix socket connection's peer
// (http.Server.ConnContext). A connection without them can only read.
func connContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return ctx
	}
	return WithPeer(ctx, Peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid})
}

// userName returns the login name of uid, or "" when the user database
// does not know it.
func userName(uid uint32) string {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return ""
	}
	return u.Username
}

// lookupGroupID resolves a group name (or numeric id).
func lookupGroupID(group string) (uint32, error) {
	g, err := user.LookupGroup(group)
	if _, numeric := strconv.ParseUint(group, 10, 32); err != nil && numeric == nil {
		g, err = user.LookupGroupId(group)
	}
	if err != nil {
		return 0, err
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %s: gid %q: %w", group, g.Gid, err)
	}
	return uint32(gid), nil
}

// mayChange reports whether p may drain, undrain or reload, and why not.
// Membership of the admin group is the peer's primary group at connect
// time or a supplementary group in the user database (/etc/group, or NSS
// when built with cgo); group changes apply at once, no restart needed.
func (s *Server) mayChange(p Peer, ok bool) (allowed bool, why string) {
	if !ok {
		return false, "the caller's credentials are unknown (not a unix socket connection)"
	}
	if p.UID == 0 || p.UID == uint32(os.Geteuid()) {
		return true, ""
	}
	who := fmt.Sprintf("uid %d", p.UID)
	if name := userName(p.UID); name != "" {
		who += " (" + name + ")"
	}
	group := s.cfg.AdminGroup
	need := "root or the daemon's own user"
	if group == "" {
		return false, fmt.Sprintf("changing the relay needs %s (api.admin_group is empty); %s is neither", need, who)
	}
	need += " or a member of group " + group
	gid, err := lookupGroupID(group)
	if err != nil {
		return false, fmt.Sprintf("changing the relay needs %s, which does not exist; %s is neither root nor the daemon's user", need, who)
	}
	if p.GID == gid {
		return true, ""
	}
	if u, err := user.LookupId(strconv.FormatUint(uint64(p.UID), 10)); err == nil {
		if ids, err := u.GroupIds(); err == nil && slices.Contains(ids, strconv.FormatUint(uint64(gid), 10)) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("changing the relay needs %s; %s is none of them", need, who)
}

// changer wraps a state-changing handler: it refuses callers without the
// right (403, logged) and logs who called.
func (s *Server) changer(op string, h func(w http.ResponseWriter, r *http.Request, who []any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := PeerFrom(r.Context())
		who := []any{"uid", p.UID, "user", userName(p.UID), "pid", p.PID}
		if !ok {
			who = []any{"caller", "unknown"}
		}
		if allowed, why := s.mayChange(p, ok); !allowed {
			s.log.Warn("control: refused "+op, append(who, "reason", why)...)
			s.fail(w, r, http.StatusForbidden, api.CodeForbidden, op+" refused: "+why)
			return
		}
		h(w, r, who)
	}
}
