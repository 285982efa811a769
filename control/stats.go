package control

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/metrics"
)

// buildStats turns the backend's counters into api.Stats without rates.
func buildStats(src metrics.Source, now time.Time) api.Stats {
	r := src.RelayCounters()
	p := src.PeerStats()
	s := api.Stats{
		Time: now,
		Packets: []api.Counter{
			{Name: metrics.DirectionV4ToV6, Total: r.V4ToV6Packets},
			{Name: metrics.DirectionV6ToV4, Total: r.V6ToV4Packets},
		},
		Bytes: []api.Counter{
			{Name: metrics.DirectionV4ToV6, Total: r.V4ToV6Bytes},
			{Name: metrics.DirectionV6ToV4, Total: r.V6ToV4Bytes},
		},
		Bubbles: []api.Counter{
			{Name: "direct", Total: r.BubblesDirect},
			{Name: "indirect", Total: r.BubblesIndirect},
			{Name: "retries", Total: r.BubbleRetries},
			{Name: "expiries", Total: r.BubbleExpiries},
		},
		ICMPv6Errors: counters(r.ICMPv6Errors),
		RateLimited:  counters(r.RateLimited),
		Evictions:    counters(p.Evictions),
		Drops:        []api.Drop{},
		XDP:          []api.XDPVerdict{},
		Rings:        []api.RingEvent{},
	}
	xdp, err := src.XDPCounters()
	if err != nil {
		s.XDPError = err.Error()
	}
	for _, x := range xdp {
		s.XDP = append(s.XDP, api.XDPVerdict{Action: x.Action, Reason: x.Reason, Total: x.Packets})
		if x.Action == "drop" || x.Action == "aborted" {
			s.Drops = append(s.Drops, api.Drop{Layer: metrics.LayerXDP, Reason: x.Reason, Total: x.Packets})
		}
	}
	for _, d := range r.Drops {
		s.Drops = append(s.Drops, api.Drop{Layer: metrics.LayerRelay, Reason: d.Label, Total: d.Value})
	}
	for _, q := range src.Queues() {
		metrics.RingEvents(&q, func(event string, v uint64) {
			s.Rings = append(s.Rings, api.RingEvent{Interface: q.Interface, Queue: q.ID, Event: event, Total: v})
		})
	}
	if slices.Contains(src.State().Roles, metrics.RoleServer) {
		addServer(&s, src.ServerStats())
	}
	return s
}

// layerServer is the api.Drop layer of the Teredo server role's drops
// (its own reason enum; the metric is teredo_relay_server_drops_total).
const layerServer = "server"

// addServer adds the server role's counters, named as in Stats.Server, and
// its drops.
func addServer(s *api.Stats, c metrics.ServerStats) {
	add := func(name string, v uint64) { s.Server = append(s.Server, api.Counter{Name: name, Total: v}) }
	add("received_packets", c.Packets)
	add("received_bytes", c.Bytes)
	add("rs_received", c.RSReceived)
	for _, x := range c.RASent {
		add("ra_sent_"+x.Label, x.Value)
	}
	for _, x := range c.Forwarded {
		add("forwarded_"+x.Label, x.Value)
	}
	add("forwarded_bytes", c.ForwardedBytes)
	add("origin_indications", c.OriginIndications)
	add("relay_handoffs", c.RelayHandoffs)
	for _, d := range c.Drops {
		s.Drops = append(s.Drops, api.Drop{Layer: layerServer, Reason: d.Label, Total: d.Value})
	}
}

func counters(cs []metrics.Count) []api.Counter {
	out := make([]api.Counter, 0, len(cs))
	for _, c := range cs {
		out = append(out, api.Counter{Name: c.Label, Total: c.Value})
	}
	return out
}

// eachCounter calls fn with a stable key, the total and a pointer to the rate
// of every counter in s.
func eachCounter(s *api.Stats, fn func(key string, total uint64, rate *float64)) {
	list := func(prefix string, cs []api.Counter) {
		for i := range cs {
			fn(prefix+cs[i].Name, cs[i].Total, &cs[i].Rate)
		}
	}
	list("packets/", s.Packets)
	list("bytes/", s.Bytes)
	list("bubbles/", s.Bubbles)
	list("icmpv6/", s.ICMPv6Errors)
	list("ratelimited/", s.RateLimited)
	list("evictions/", s.Evictions)
	list("server/", s.Server)
	for i := range s.Drops {
		d := &s.Drops[i]
		fn("drops/"+d.Layer+"/"+d.Reason, d.Total, &d.Rate)
	}
	for i := range s.XDP {
		x := &s.XDP[i]
		fn("xdp/"+x.Action+"/"+x.Reason, x.Total, &x.Rate)
	}
	for i := range s.Rings {
		r := &s.Rings[i]
		fn("ring/"+r.Interface+"/"+strconv.Itoa(r.Queue)+"/"+r.Event, r.Total, &r.Rate)
	}
}

type sample struct {
	t      time.Time
	totals map[string]uint64
}

// rates keeps recent samples of every counter so that any request can be
// answered with rates over the last window, whoever asks and how often.
type rates struct {
	window time.Duration
	mu     sync.Mutex
	hist   []sample // oldest first
}

// add records s, taken at s.Time, and forgets samples older than the window.
func (r *rates) add(s *api.Stats) {
	smp := sample{t: s.Time, totals: map[string]uint64{}}
	eachCounter(s, func(key string, total uint64, _ *float64) { smp.totals[key] = total })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hist = append(r.hist, smp)
	cut := 0
	for cut < len(r.hist)-1 && s.Time.Sub(r.hist[cut+1].t) >= r.window {
		cut++
	}
	r.hist = append(r.hist[:0], r.hist[cut:]...)
}

// fill sets the rates of s over the longest span within the window: from the
// oldest sample at most window and at least a second older than s (or, after
// a sampling gap, the newest older one). A counter that went backwards
// (restart) or is new gets rate 0.
func (r *rates) fill(s *api.Stats) {
	r.mu.Lock()
	var base sample
	for _, h := range r.hist {
		age := s.Time.Sub(h.t)
		if age < time.Second {
			break
		}
		base = h
		if age <= r.window {
			break
		}
	}
	r.mu.Unlock()
	if base.totals == nil {
		return
	}
	dt := s.Time.Sub(base.t).Seconds()
	s.RateWindowSeconds = dt
	eachCounter(s, func(key string, total uint64, rate *float64) {
		if prev, ok := base.totals[key]; ok && total >= prev {
			*rate = float64(total-prev) / dt
		}
	})
}
