package metrics

import (
	"runtime"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// BuildInfo identifies the running build in teredo_relay_build_info.
type BuildInfo struct {
	Version   string
	Revision  string
	GoVersion string // defaults to runtime.Version()
}

// WithDefaults fills what b leaves empty: runtime.Version() for GoVersion,
// "unknown" for Version and Revision.
func (b BuildInfo) WithDefaults() BuildInfo {
	if b.GoVersion == "" {
		b.GoVersion = runtime.Version()
	}
	if b.Version == "" {
		b.Version = "unknown"
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return b
}

// Collector is a prometheus.Collector reading a Source at scrape time only.
// It is safe for concurrent scrapes if the Source is.
type Collector struct {
	src   Source
	build BuildInfo
	descs map[string]*prometheus.Desc
}

// NewCollector returns a Collector over src.
func NewCollector(src Source, build BuildInfo) *Collector {
	build = build.WithDefaults()
	c := &Collector{src: src, build: build, descs: make(map[string]*prometheus.Desc, len(Defs))}
	for _, d := range Defs {
		c.descs[d.Name] = d.Desc()
	}
	return c
}

// NewRegistry returns a registry holding a Collector over src plus the Go
// runtime and process collectors.
func NewRegistry(src Source, build BuildInfo) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src, build),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range Defs {
		ch <- c.descs[d.Name]
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.collectRelay(ch, c.src.RelayCounters())
	c.collectXDP(ch)
	c.collectPeers(ch, c.src.PeerStats())
	c.collectQueues(ch, c.src.Queues())
	c.collectState(ch, c.src.State())
	c.collectServer(ch, c.src.ServerStats())
}

func (c *Collector) emit(ch chan<- prometheus.Metric, d Def, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(c.descs[d.Name], d.ValueType(), v, labels...)
}

func (c *Collector) emitCounts(ch chan<- prometheus.Metric, d Def, counts []Count, prefix ...string) {
	for _, x := range counts {
		c.emit(ch, d, float64(x.Value), append(prefix[:len(prefix):len(prefix)], x.Label)...)
	}
}

func (c *Collector) collectRelay(ch chan<- prometheus.Metric, r RelayCounters) {
	c.emit(ch, defPackets, float64(r.V4ToV6Packets), DirectionV4ToV6)
	c.emit(ch, defPackets, float64(r.V6ToV4Packets), DirectionV6ToV4)
	c.emit(ch, defBytes, float64(r.V4ToV6Bytes), DirectionV4ToV6)
	c.emit(ch, defBytes, float64(r.V6ToV4Bytes), DirectionV6ToV4)
	c.emitCounts(ch, defDrops, r.Drops, LayerRelay)
	c.emit(ch, defBubbles, float64(r.BubblesDirect), BubbleDirect)
	c.emit(ch, defBubbles, float64(r.BubblesIndirect), BubbleIndirect)
	c.emit(ch, defBubbleRetries, float64(r.BubbleRetries))
	c.emit(ch, defBubbleExpiries, float64(r.BubbleExpiries))
	c.emit(ch, defChecksumsCompleted, float64(r.ChecksumsCompleted))
	c.emitCounts(ch, defICMPv6, r.ICMPv6Errors)
	c.emitCounts(ch, defRateLimited, r.RateLimited)
}

func (c *Collector) collectXDP(ch chan<- prometheus.Metric) {
	counts, err := c.src.XDPCounters()
	if err != nil {
		c.emit(ch, defSourceUp, 0, SourceXDP)
		return
	}
	c.emit(ch, defSourceUp, 1, SourceXDP)
	for _, x := range counts {
		c.emit(ch, defXDPPackets, float64(x.Packets), x.Action, x.Reason)
		if x.Action == "drop" || x.Action == "aborted" {
			c.emit(ch, defDrops, float64(x.Packets), LayerXDP, x.Reason)
		}
	}
}

func (c *Collector) collectPeers(ch chan<- prometheus.Metric, p PeerStats) {
	c.emit(ch, defPeers, float64(p.Pending), "pending")
	c.emit(ch, defPeers, float64(p.Trusted), "trusted")
	c.emit(ch, defPeersCapacity, float64(p.Capacity))
	c.emitCounts(ch, defEvictions, p.Evictions)
	c.emit(ch, defQueuedBytes, float64(p.QueuedBytes))
	c.emit(ch, defQueuedPackets, float64(p.QueuedPackets))
	c.emit(ch, defQueueLimit, float64(p.QueueLimitBytes))
}

func (c *Collector) collectQueues(ch chan<- prometheus.Metric, qs []Queue) {
	ringOK := 1.0
	for _, q := range qs {
		id := strconv.Itoa(q.ID)
		c.emit(ch, defQueueInfo, 1, q.Interface, id, q.XDPMode, q.SocketMode())
		c.emit(ch, defQueueRx, float64(q.RxPackets), q.Interface, id)
		c.emit(ch, defQueueTx, float64(q.TxPackets), q.Interface, id)
		if q.RingErr != nil {
			ringOK = 0
		}
		RingEvents(&q, func(event string, v uint64) {
			c.emit(ch, defRingEvents, float64(v), q.Interface, id, event)
		})
	}
	c.emit(ch, defSourceUp, ringOK, SourceAFXDP)
}

func (c *Collector) collectState(ch chan<- prometheus.Metric, s State) {
	c.emit(ch, defReady, b2f(s.Ready))
	c.emit(ch, defDraining, b2f(s.Draining))
	c.emit(ch, defReloadOK, b2f(s.LastReloadSuccessful))
	if !s.LastReloadSuccess.IsZero() {
		c.emit(ch, defReloadTime, unixSeconds(s.LastReloadSuccess))
	}
	c.emit(ch, defReloads, float64(s.Reloads-min(s.ReloadFailures, s.Reloads)), "success")
	c.emit(ch, defReloads, float64(s.ReloadFailures), "failure")
	if !s.StartTime.IsZero() {
		c.emit(ch, defStartTime, unixSeconds(s.StartTime))
	}
	for _, l := range s.RateLimits {
		c.emit(ch, defRateLimit, l.PacketsPerSecond, l.Limiter)
	}
	c.emit(ch, defBuildInfo, 1, c.build.Version, c.build.Revision, c.build.GoVersion)
	for _, r := range Roles {
		c.emit(ch, defRoleEnabled, b2f(slices.Contains(s.Roles, r)), r)
	}
	c.collectAnnounce(ch, s.Announce)
	c.collectPeerState(ch, s.PeerState) // metrics/peerstate.go
}

func (c *Collector) collectServer(ch chan<- prometheus.Metric, s ServerStats) {
	c.emit(ch, defServerPackets, float64(s.Packets))
	c.emit(ch, defServerBytes, float64(s.Bytes))
	c.emit(ch, defServerRS, float64(s.RSReceived))
	c.emitCounts(ch, defServerRA, s.RASent)
	c.emitCounts(ch, defServerForwarded, s.Forwarded)
	c.emit(ch, defServerForwardedBytes, float64(s.ForwardedBytes))
	c.emit(ch, defServerOrigin, float64(s.OriginIndications))
	c.emit(ch, defServerHandoffs, float64(s.RelayHandoffs))
	c.emitCounts(ch, defServerDrops, s.Drops)
}

func (c *Collector) collectAnnounce(ch chan<- prometheus.Metric, a AnnounceState) {
	c.emit(ch, defAnnounceEnabled, b2f(a.Enabled))
	for _, p := range a.Prefixes {
		c.emit(ch, defAnnounceState, b2f(a.Announced), p)
	}
	c.emit(ch, defAnnounceDesired, b2f(a.Desired))
	c.emit(ch, defAnnounceTransitions, float64(a.Announcements), AnnounceTo)
	c.emit(ch, defAnnounceTransitions, float64(a.Withdrawals), WithdrawTo)
	c.emit(ch, defAnnounceErrors, float64(a.Errors))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
