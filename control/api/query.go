package api

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
)

// Values encodes q as the query string of GET /v1/peers.
func (q PeerQuery) Values() url.Values {
	v := q.PeerFilter.Values()
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// Values encodes f as query parameters.
func (f PeerFilter) Values() url.Values {
	v := url.Values{}
	if f.State != "" {
		v.Set("state", f.State)
	}
	if f.V4.IsValid() {
		v.Set("v4", f.V4.String())
	}
	if f.Server.IsValid() {
		v.Set("server", f.Server.String())
	}
	return v
}

// IsZero reports whether f selects every peer.
func (f PeerFilter) IsZero() bool { return f == PeerFilter{} }

// ParsePeerFilter decodes and validates filter parameters.
func ParsePeerFilter(v url.Values) (PeerFilter, error) {
	var f PeerFilter
	switch s := v.Get("state"); s {
	case "", StatePending, StateTrusted:
		f.State = s
	default:
		return f, fmt.Errorf("state %q is not one of %s, %s", s, StatePending, StateTrusted)
	}
	if s := v.Get("v4"); s != "" {
		p, err := parseV4Prefix(s)
		if err != nil {
			return f, err
		}
		f.V4 = p
	}
	if s := v.Get("server"); s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return f, fmt.Errorf("server %q is not an IPv4 address", s)
		}
		f.Server = a
	}
	return f, nil
}

// parseV4Prefix accepts an IPv4 prefix or a bare address (a /32).
func parseV4Prefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("v4 %q is not an IPv4 prefix", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("v4 %q is not an IPv4 prefix", s)
	}
	return p.Masked(), nil
}

// ParsePeerQuery decodes and validates GET /v1/peers parameters; an absent
// sort is last-rx and an absent limit DefaultLimit. A limit above MaxLimit is
// an error, so a client never believes it got more than it did.
func ParsePeerQuery(v url.Values) (PeerQuery, error) {
	f, err := ParsePeerFilter(v)
	if err != nil {
		return PeerQuery{}, err
	}
	q := PeerQuery{PeerFilter: f, Sort: SortLastRx, Limit: DefaultLimit}
	if s := v.Get("sort"); s != "" {
		if !slices.Contains(SortKeys, s) {
			return q, fmt.Errorf("sort %q is not one of %v", s, SortKeys)
		}
		q.Sort = s
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, fmt.Errorf("limit %q is not an integer from 1 to %d", s, MaxLimit)
		}
		q.Limit = n
	}
	return q, nil
}
