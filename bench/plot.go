package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// systemColors keeps each system's colour the same in every plot.
var systemColors = map[string]color.Color{
	SysRelayd: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	SysMiredo: color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	SysFloor:  color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	SysAsavie: color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// Plot writes, into dir: per mode, stem-<mode>.png with three panels against
// the offered load (delivered pps; the system's CPU ns per delivered packet;
// machine-wide CPU); stem-ratios.png with the ratio bars; and, when the
// sweep ran, stem-sweep.png with the same three panels against the number
// of peers, decap and encap side by side. It returns the paths.
func (r *Report) Plot(dir, stem string, modes []Mode) ([]string, error) {
	var files []string
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	for _, m := range modes {
		if !r.hasSteps(m) {
			continue
		}
		col, err := r.ladderPanels(m)
		if err != nil {
			return files, err
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", stem, m))
		if err := savePanels(path, [][]*plot.Plot{{col[0]}, {col[1]}, {col[2]}}, 7*vg.Inch, 10*vg.Inch); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	if len(r.Ratios) > 0 {
		path := filepath.Join(dir, stem+"-ratios.png")
		if err := r.plotRatios(path, modes); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	if r.Sweep != nil && len(r.Sweep.Systems) > 0 {
		var rows [3][]*plot.Plot
		for _, m := range []Mode{ModeDecap, ModeEncap} {
			col, err := r.sweepPanels(m)
			if err != nil {
				return files, err
			}
			for i := range rows {
				rows[i] = append(rows[i], col[i])
			}
		}
		path := filepath.Join(dir, stem+"-sweep.png")
		if err := savePanels(path, rows[:], 11*vg.Inch, 10*vg.Inch); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	r.Files = append(r.Files, files...)
	return files, nil
}

func (r *Report) hasSteps(m Mode) bool {
	for _, s := range r.Systems {
		for _, st := range s.Steps {
			if st.Mode == m {
				return true
			}
		}
	}
	return false
}

// series is one system's line in a panel.
type series struct {
	name   string
	pts    plotter.XYs
	dashed bool // the process-only part of the CPU cost
}

// newPanel returns an empty panel with a grid.
func newPanel(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// addSeries draws each series in its system's colour (dashed ones without
// a legend entry).
func addSeries(p *plot.Plot, ss []series) error {
	for _, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(sortXY(s.pts))
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.name, err)
		}
		c := systemColors[s.name]
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			line.Width = vg.Points(1)
			points.Shape = nil
			p.Add(line)
			continue
		}
		p.Add(line, points)
		p.Legend.Add(s.name, line, points)
	}
	return nil
}

// hasPoints reports whether any series has data (an empty log axis would
// have no range).
func hasPoints(ss []series) bool {
	for _, s := range ss {
		if len(s.pts) > 0 {
			return true
		}
	}
	return false
}

// logAxis puts an axis on a log scale (every value must be > 0) with its
// labels written by label.
func logAxis(a *plot.Axis, label func(float64) string) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = labelTicks{plot.LogTicks{Prec: -1}, label}
}

// labelTicks relabels another ticker's labelled ticks.
type labelTicks struct {
	plot.Ticker
	label func(float64) string
}

// Ticks implements plot.Ticker.
func (l labelTicks) Ticks(min, max float64) []plot.Tick {
	ts := l.Ticker.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = l.label(ts[i].Value)
		}
	}
	return ts
}

func peersLabel(v float64) string { return peersStr(int(math.Round(v))) }

func nsLabel(v float64) string { return fmt.Sprintf("%.0f", v) }

// processOnlyNote adds the legend entry explaining the dashed lines.
func processOnlyNote(p *plot.Plot) {
	l := plotter.NewFunction(func(float64) float64 { return 1 })
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	l.Color = color.Gray{Y: 0x60}
	p.Legend.Add("dashed: process only (lower bound)", l)
}

// ladderPanels returns mode m's panels against the offered load.
func (r *Report) ladderPanels(m Mode) ([3]*plot.Plot, error) {
	var ps [3]*plot.Plot
	ps[0] = newPanel(fmt.Sprintf("%s: delivered vs offered (%s, generator %s)", m, r.Host, r.Generator.Method), "offered (Mpps)", "delivered (Mpps)")
	ps[1] = newPanel("system CPU per delivered packet (solid: process + softirq, upper bound)", "offered (Mpps)", "ns / packet")
	ps[2] = newPanel("machine-wide CPU (both cores, generator included)", "offered (Mpps)", "busy %")
	var sets [4][]series
	maxX := 0.0
	for _, s := range r.Systems {
		var pts []stepAt
		for i := range s.Steps {
			if st := &s.Steps[i]; st.Mode == m {
				pts = append(pts, stepAt{st.OfferedPPS / 1e6, st})
				maxX = max(maxX, st.OfferedPPS/1e6)
			}
		}
		sets = appendSeries(sets, s.Name, pts)
	}
	if err := fillPanels(ps, sets, false); err != nil {
		return ps, err
	}
	if maxX > 0 {
		ideal := plotter.NewFunction(func(x float64) float64 { return x })
		ideal.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		ideal.Color = color.Gray{Y: 0x80}
		ideal.XMin, ideal.XMax = 0, maxX
		ps[0].Add(ideal)
		ps[0].Legend.Add("delivered = offered", ideal)
	}
	return ps, nil
}

// sweepPanels returns direction m's panels against the number of peers.
func (r *Report) sweepPanels(m Mode) ([3]*plot.Plot, error) {
	var ps [3]*plot.Plot
	ps[0] = newPanel(fmt.Sprintf("%s: delivered vs peers (%s, generator %s)", m, r.Host, r.Generator.Method), "active peers", "delivered (Mpps)")
	ps[1] = newPanel(fmt.Sprintf("%s: system CPU per delivered packet (solid: process + softirq, upper bound)", m), "active peers", "ns / packet")
	ps[2] = newPanel(fmt.Sprintf("%s: machine-wide CPU", m), "active peers", "busy %")
	var sets [4][]series
	for _, s := range r.Sweep.Systems {
		var pts []stepAt
		for i := range s.Points {
			if st := s.Points[i].Step(m); st != nil {
				pts = append(pts, stepAt{float64(s.Points[i].Peers), st})
			}
		}
		sets = appendSeries(sets, s.Name, pts)
	}
	ps[0].Y.Min = 0
	return ps, fillPanels(ps, sets, true)
}

// stepAt is a step and its x coordinate in a panel.
type stepAt struct {
	x  float64
	st *Step
}

// appendSeries adds one system's series to each of the four sets of the
// panels: delivered Mpps, CPU ns per packet, its process-only part
// (dashed), machine CPU %.
func appendSeries(sets [4][]series, name string, pts []stepAt) [4][]series {
	var ss [4]series
	for i := range ss {
		ss[i] = series{name: name, dashed: i == 2}
	}
	for _, p := range pts {
		ss[0].pts = append(ss[0].pts, plotter.XY{X: p.x, Y: p.st.DeliveredPPS / 1e6})
		if v := p.st.NsPerPkt(); v > 0 {
			ss[1].pts = append(ss[1].pts, plotter.XY{X: p.x, Y: v})
		}
		if v := p.st.ProcessNsPerPkt; v > 0 {
			ss[2].pts = append(ss[2].pts, plotter.XY{X: p.x, Y: v})
		}
		ss[3].pts = append(ss[3].pts, plotter.XY{X: p.x, Y: p.st.MachineCPU})
	}
	for i := range sets {
		sets[i] = append(sets[i], ss[i])
	}
	return sets
}

// fillPanels draws the sets of appendSeries into the three panels.
func fillPanels(ps [3]*plot.Plot, sets [4][]series, logx bool) error {
	for i, ss := range [][]series{sets[0], append(sets[1], sets[2]...), sets[3]} {
		if err := addSeries(ps[i], ss); err != nil {
			return err
		}
		if logx && hasPoints(ss) {
			logAxis(&ps[i].X, peersLabel)
		}
	}
	if hasPoints(sets[1]) {
		logAxis(&ps[1].Y, nsLabel)
	}
	processOnlyNote(ps[1])
	ps[2].Y.Min, ps[2].Y.Max = 0, 100
	return nil
}

// savePanels draws rows of panels into one PNG.
func savePanels(path string, rows [][]*plot.Plot, w, h vg.Length) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	t := draw.Tiles{Rows: len(rows), Cols: len(rows[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(rows, t, dc)
	for i := range rows {
		for j, p := range rows[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// plotRatios draws grouped bars: one group per ratio, one bar per mode.
func (r *Report) plotRatios(path string, modes []Mode) error {
	var names []string
	seen := map[string]bool{}
	for _, x := range r.Ratios {
		if !seen[x.Name] {
			seen[x.Name] = true
			names = append(names, x.Name)
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("max delivered pps ratios (%s)", r.Host)
	p.Y.Label.Text = "ratio"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	w := vg.Points(18)
	palette := []color.Color{
		color.RGBA{R: 0x44, G: 0x72, B: 0xc4, A: 0xff},
		color.RGBA{R: 0xed, G: 0x7d, B: 0x31, A: 0xff},
		color.RGBA{R: 0x70, G: 0xad, B: 0x47, A: 0xff},
	}
	for i, m := range modes {
		vals := make(plotter.Values, len(names))
		for j, n := range names {
			for _, x := range r.Ratios {
				if x.Name == n && x.Mode == m {
					vals[j] = x.Value
				}
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("ratio bars: %w", err)
		}
		bars.Color = palette[i%len(palette)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(modes)-1)/2) * w
		p.Add(bars)
		p.Legend.Add(string(m), bars)
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	one.Color = color.Gray{Y: 0x80}
	p.Add(one)
	p.NominalX(names...)
	// Room above the tallest bar for the legend, so it never covers a bar.
	top := 1.0
	for _, x := range r.Ratios {
		top = max(top, x.Value)
	}
	p.Y.Min, p.Y.Max = 0, top*1.3
	if err := p.Save(8*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

func sortXY(pts plotter.XYs) plotter.XYs {
	for i := 1; i < len(pts); i++ {
		for j := i; j > 0 && pts[j].X < pts[j-1].X; j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
	return pts
}
