package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// table is one table of a summary, written as aligned text (WriteSummary)
// or Markdown (WriteMarkdown) from the same rows.
type table struct {
	head  []string
	right []bool // column is numeric (right-aligned in Markdown)
	rows  [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) text(w io.Writer) {
	if len(t.rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func (t *table) markdown(w io.Writer) {
	if len(t.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "| %s |\n|", strings.Join(t.head, " | "))
	for i := range t.head {
		if i < len(t.right) && t.right[i] {
			fmt.Fprint(w, "---:|")
		} else {
			fmt.Fprint(w, "---|")
		}
	}
	fmt.Fprintln(w)
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

// nsStr formats a CPU cost per packet.
func nsStr(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ns", v)
}

// cpuStr formats a step's CPU per delivered packet as the range between
// its bounds: the process tree's time alone (a lower bound: it leaves out
// the system's softirq work on other threads) and that plus the attributed
// softirq time (an upper bound: softirq on the system's own threads counts
// in both; bench/README.md, "CPU per packet").
func cpuStr(st *Step) string {
	if st.ProcessNsPerPkt <= 0 {
		return "-"
	}
	if st.SoftirqNsPerPkt <= 0 {
		return nsStr(st.ProcessNsPerPkt)
	}
	return fmt.Sprintf("%.0f–%.0f ns", st.ProcessNsPerPkt, st.NsPerPkt())
}

// peersStr names a peer count the way the sweep is described: 1 k, 64 k
// (65536), 1 M.
func peersStr(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%d M", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%d k", n/1000)
	case n >= 1024 && n%1024 == 0:
		return fmt.Sprintf("%d k", n/1024)
	}
	return fmt.Sprint(n)
}

// calibrationTable: the generator straight into sinks.
func (r *Report) calibrationTable() *table {
	t := &table{head: []string{"generator → sinks", "rate", "p50", "p99", "machine CPU / frame", "softirq / frame"},
		right: []bool{false, true, true, true, true, true}}
	for _, c := range r.Generator.Calibration {
		t.add(fmt.Sprintf("%s, %s", r.Generator.Method, c.Traffic), kpps(c.RatePPS)+"pps", micros(c.P50Micros), micros(c.P99Micros), nsStr(c.MachineNsPerSent), nsStr(c.SoftirqNsPerSent))
	}
	return t
}

// ladderTable: each system's best step per mode, and its garbage step.
func (r *Report) ladderTable(modes []Mode) *table {
	t := &table{head: []string{"system", "mode", "max delivered", "at offered", "loss", "p50", "p99", "system CPU", "CPU / packet", "machine CPU"},
		right: []bool{false, false, true, true, true, true, true, true, true, true}}
	for _, s := range r.Systems {
		if s.Skipped != "" || s.Error != "" {
			t.add(s.Name, "–", firstNonEmpty(s.Skipped, "error: "+s.Error), "", "", "", "", "", "", "")
			continue
		}
		for _, m := range modes {
			v, st := s.MaxDelivered(m)
			if st == nil {
				continue
			}
			t.add(s.Name, string(m), kpps(v)+"pps", kpps(st.OfferedPPS)+"pps", fmt.Sprintf("%.1f %%", st.Loss*100), micros(st.P50Micros), micros(st.P99Micros),
				fmt.Sprintf("%.0f %%", st.SystemCPU), cpuStr(st), fmt.Sprintf("%.0f %%", st.MachineCPU))
		}
		if g := s.Garbage; g != nil {
			t.add(s.Name, fmt.Sprintf("decap + %d× garbage", g.RatioOffered), kpps(g.LegitPPS*(1-g.LegitLoss))+"pps legit", kpps(g.LegitPPS+g.GarbagePPS)+"pps total",
				fmt.Sprintf("%.3f %% legit", g.LegitLoss*100), "", micros(g.P99Micros), fmt.Sprintf("%.0f %%", g.SystemCPU), "", "")
		}
	}
	return t
}

func (r *Report) ratioTable() *table {
	t := &table{head: []string{"ratio (max delivered pps)", "mode", "value"}, right: []bool{false, false, true}}
	for _, x := range r.Ratios {
		t.add(x.Name, string(x.Mode), fmt.Sprintf("%.2f", x.Value))
	}
	return t
}

func (r *Report) goalTable() *table {
	t := &table{head: []string{"goal", "target", "measured", "met"}}
	for _, g := range r.Goals {
		t.add(g.Name, g.Target, g.Value, g.Met)
	}
	return t
}

// sweepTable: every sweep point of every system.
func (r *Report) sweepTable() *table {
	t := &table{head: []string{"system", "peers", "warm-up", "decap delivered", "peers reached", "CPU / packet", "encap delivered", "peers reached", "CPU / packet"},
		right: []bool{false, true, false, true, true, true, true, true, true}}
	if r.Sweep == nil {
		return t
	}
	for _, s := range r.Sweep.Systems {
		for i := range s.Points {
			pt := &s.Points[i]
			row := []string{s.Name, peersStr(pt.Peers), pt.warmupStr()}
			for _, m := range []Mode{ModeDecap, ModeEncap} {
				if st := pt.Step(m); st != nil {
					row = append(row, fmt.Sprintf("%spps of %spps", kpps(st.DeliveredPPS), kpps(st.OfferedPPS)), fmt.Sprint(st.PeersReached), cpuStr(st))
				} else {
					row = append(row, "-", "-", "-")
				}
			}
			if pt.Error != "" {
				row[2] += "; error: " + firstLine(pt.Error)
			}
			t.add(row...)
		}
	}
	return t
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// warmupStr says how the point's peers became known.
func (p *SweepPoint) warmupStr() string {
	w := p.Warmup
	if w == nil {
		return "-"
	}
	if w.Method == WarmupNone {
		return w.Method
	}
	s := fmt.Sprintf("%s: %d of %d verified in %.0f s", w.Method, w.Reached, p.Peers, w.Seconds)
	switch {
	case w.Capped:
		s += " (cap)"
	case w.Stalled:
		s += " (stalled)"
	}
	if p.Refresh != nil {
		s += fmt.Sprintf("; refresh reached %d", p.Refresh.Reached)
	}
	return s
}

// sweepPoint returns system name's point with n peers, or nil.
func (r *Report) sweepPoint(name string, n int) *SweepPoint {
	if r.Sweep == nil {
		return nil
	}
	for _, s := range r.Sweep.Systems {
		if s.Name != name {
			continue
		}
		for i := range s.Points {
			if s.Points[i].Peers == n {
				return &s.Points[i]
			}
		}
	}
	return nil
}

// headlineTable is the README's table: per direction, teredo-relayd's
// ratios to Miredo and to the floor (max delivered pps of the ladder), and
// each system's delivered rate and CPU per packet at the smallest and the
// largest peer count of the sweep.
func (r *Report) headlineTable() *table {
	t := &table{head: []string{"", "decap", "encap"}, right: []bool{false, true, true}}
	for _, name := range []string{SysRelayd + " / " + SysMiredo, SysRelayd + " / " + SysFloor} {
		row := []string{name + " (max delivered pps, " + fmt.Sprint(r.Settings.Clients) + " clients)"}
		found := false
		for _, m := range []Mode{ModeDecap, ModeEncap} {
			cell := "-"
			for _, x := range r.Ratios {
				if x.Name == name && x.Mode == m {
					cell, found = fmt.Sprintf("%.2f (%s / %s)", x.Value, kpps(x.Num), kpps(x.Den)), true
				}
			}
			row = append(row, cell)
		}
		if found {
			t.add(row...)
		}
	}
	if r.Sweep == nil || len(r.Sweep.Peers) == 0 {
		return t
	}
	ends := []int{r.Sweep.Peers[0]}
	if last := r.Sweep.Peers[len(r.Sweep.Peers)-1]; last != ends[0] {
		ends = append(ends, last)
	}
	for _, s := range r.Sweep.Systems {
		for _, n := range ends {
			pt := r.sweepPoint(s.Name, n)
			if pt == nil {
				continue
			}
			row := []string{fmt.Sprintf("%s, %s peers: delivered, CPU / packet", s.Name, peersStr(n))}
			for _, m := range []Mode{ModeDecap, ModeEncap} {
				cell := "-"
				if st := pt.Step(m); st != nil {
					cell = fmt.Sprintf("%spps, %s", kpps(st.DeliveredPPS), cpuStr(st))
					if st.PeersReached < pt.Peers {
						cell += fmt.Sprintf(" (%s peers reached)", peersStr(st.PeersReached))
					}
				}
				row = append(row, cell)
			}
			if w := pt.Warmup; w != nil && (w.Method == WarmupAcceptUnknown || w.Method == WarmupBubblesPartial) {
				row[0] += " ¹"
			}
			t.add(row...)
		}
	}
	return t
}

// WriteSummary prints the run's tables as aligned text.
func (r *Report) WriteSummary(w io.Writer, modes []Mode) {
	fmt.Fprintf(w, "\n%s on %s — %s, %d CPUs, kernel %s, %s\n", r.Date.Format("2006-01-02 15:04"), r.Host, r.Machine.CPUModel, r.Machine.CPUs, r.Machine.Kernel, r.Machine.Link)
	fmt.Fprintf(w, "generator: %s\n\n", r.Generator)
	r.calibrationTable().text(w)
	r.ladderTable(modes).text(w)
	r.ratioTable().text(w)
	r.goalTable().text(w)
	r.sweepTable().text(w)
	r.headlineTable().text(w)
}

// WriteMarkdown writes the summary as Markdown: the README table first
// (README.md "Performance" is this table of the latest run), then every
// table of the run.
func (r *Report) WriteMarkdown(w io.Writer, modes []Mode) {
	fmt.Fprintf(w, "Run %s on `%s`: %s, %d CPUs, %d MiB, Linux %s, %s; %s; %s per step, %d clients, %d-byte IPv6 packets; took %s.\n\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.Host, r.Machine.CPUModel, r.Machine.CPUs, r.Machine.MemoryMiB, r.Machine.Kernel, r.Machine.GoVersion, r.Machine.Link,
		time.Duration(r.Settings.StepDuration), r.Settings.Clients, r.Settings.IPv6Len, time.Duration(r.Elapsed).Round(time.Second))
	if r.Methodology != "" {
		fmt.Fprintf(w, "Methodology: %s\n\n", r.Methodology)
	}
	fmt.Fprintf(w, "Generator: **%s**. %s.\n\n", r.Generator, r.Generator.Description)
	fmt.Fprintln(w, "CPU / packet is a range per delivered packet: from the system's process-tree user+system time (lower bound) to that plus the softirq time of the step beyond what the generator and a sink cost alone (upper bound: softirq on the system's own threads counts in both); machine CPU is both cores, generator included (bench/README.md, \"CPU per packet\").")
	fmt.Fprintln(w)
	if h := r.headlineTable(); len(h.rows) > 0 {
		fmt.Fprintln(w, "### Summary (the README table)")
		fmt.Fprintln(w)
		h.markdown(w)
		if r.Sweep != nil {
			fmt.Fprintf(w, "Sweep steps offer each system the load of its best ladder step, for %s or long enough to offer every peer once. "+
				"¹ the bubble exchange did not verify every peer: teredo-relayd then learnt the rest with accept_unknown_peers, another system ran with fewer peers (sweep table).\n\n",
				time.Duration(r.Sweep.StepDuration))
		}
	}
	fmt.Fprintln(w, "### Generator calibration (straight into sinks, no system)")
	fmt.Fprintln(w)
	r.calibrationTable().markdown(w)
	if t := r.ladderTable(modes); len(t.rows) > 0 {
		fmt.Fprintln(w, "### Offered-load ladder (best step of each system)")
		fmt.Fprintln(w)
		t.markdown(w)
		r.ratioTable().markdown(w)
	}
	r.goalTable().markdown(w)
	if t := r.sweepTable(); len(t.rows) > 0 {
		fmt.Fprintf(w, "### Peer-count sweep (warm-up cap %s)\n\n", time.Duration(r.Sweep.WarmupCap))
		t.markdown(w)
		for _, s := range r.Sweep.Systems {
			for _, n := range s.Notes {
				fmt.Fprintf(w, "- %s: %s\n", s.Name, n)
			}
		}
		fmt.Fprintln(w)
	}
	if r.Micro != nil && len(r.Micro.Benchmarks) > 0 {
		t := &table{head: []string{"micro-benchmark", "ns/op", "B/op", "allocs/op"}, right: []bool{false, true, true, true}}
		for _, b := range r.Micro.Benchmarks {
			t.add(b.Package+"."+b.Name, fmt.Sprintf("%.1f", b.NsPerOp), fmt.Sprint(b.BytesPerOp), fmt.Sprint(b.AllocsPerOp))
		}
		t.markdown(w)
	}
}
