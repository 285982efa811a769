package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// maxBody bounds an answer the client reads (a 10000-peer listing is ~6 MB).
const maxBody = 64 << 20

// Error is a non-2xx answer from the daemon.
type Error struct {
	Status  int // HTTP status
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("teredo-relayd: %s (%s)", e.Message, e.Code) }

// UnreachableError means the client could not talk to the daemon at all.
type UnreachableError struct {
	Socket string
	Err    error
}

func (e *UnreachableError) Error() string {
	hint := ""
	switch {
	case errors.Is(e.Err, syscall.ENOENT), errors.Is(e.Err, syscall.ECONNREFUSED):
		hint = " (is teredo-relayd running, with this api.socket?)"
	case errors.Is(e.Err, syscall.EACCES):
		hint = " (the socket is mode 0660: run as root or as a member of its group)"
	}
	return fmt.Sprintf("cannot reach teredo-relayd at %s: %v%s", e.Socket, e.Err, hint)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Client calls the control API over a unix socket. The zero value is not
// usable; use NewClient.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket; timeout
// bounds each call (0: none).
func NewClient(socket string, timeout time.Duration) *Client {
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
		MaxIdleConns:       2,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// Socket returns the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

// Do sends a request to path (with query q, may be nil) and returns the raw
// 2xx body, decoding it into out when out is not nil.
func (c *Client) Do(ctx context.Context, method, path string, q url.Values, out any) ([]byte, error) {
	u := "http://relayd" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			return nil, &UnreachableError{Socket: c.socket, Err: opErr}
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, &UnreachableError{Socket: c.socket, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read answer to %s %s from relayd at %s: %w", method, path, c.socket, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(body, &eb) != nil || eb.Error.Code == "" {
			return nil, &Error{Status: resp.StatusCode, Code: CodeInternal,
				Message: fmt.Sprintf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(body))}
		}
		return nil, &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("decode answer to %s %s: %w", method, path, err)
		}
	}
	return body, nil
}

// Status calls GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, []byte, error) {
	var s Status
	raw, err := c.Do(ctx, http.MethodGet, PathStatus, nil, &s)
	return s, raw, err
}

// Stats calls GET /v1/stats.
func (c *Client) Stats(ctx context.Context) (Stats, []byte, error) {
	var s Stats
	raw, err := c.Do(ctx, http.MethodGet, PathStats, nil, &s)
	return s, raw, err
}

// Peers calls GET /v1/peers.
func (c *Client) Peers(ctx context.Context, q PeerQuery) (Peers, []byte, error) {
	var p Peers
	raw, err := c.Do(ctx, http.MethodGet, PathPeers, q.Values(), &p)
	return p, raw, err
}

// PeerCount calls GET /v1/peers/count.
func (c *Client) PeerCount(ctx context.Context, f PeerFilter) (PeerCount, []byte, error) {
	var p PeerCount
	raw, err := c.Do(ctx, http.MethodGet, PathPeerCount, f.Values(), &p)
	return p, raw, err
}

// Peer calls GET /v1/peers/{addr}.
func (c *Client) Peer(ctx context.Context, addr netip.Addr) (PeerDetail, []byte, error) {
	var p PeerDetail
	raw, err := c.Do(ctx, http.MethodGet, PathPeer+url.PathEscape(addr.String()), nil, &p)
	return p, raw, err
}

// Drain calls POST /v1/drain.
func (c *Client) Drain(ctx context.Context) (DrainResult, []byte, error) {
	var r DrainResult
	raw, err := c.Do(ctx, http.MethodPost, PathDrain, nil, &r)
	return r, raw, err
}

// Undrain calls POST /v1/undrain.
func (c *Client) Undrain(ctx context.Context) (DrainResult, []byte, error) {
	var r DrainResult
	raw, err := c.Do(ctx, http.MethodPost, PathUndrain, nil, &r)
	return r, raw, err
}

// Reload calls POST /v1/reload.
func (c *Client) Reload(ctx context.Context) (ReloadResult, []byte, error) {
	var r ReloadResult
	raw, err := c.Do(ctx, http.MethodPost, PathReload, nil, &r)
	return r, raw, err
}
