package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// systemColors keeps each system's colour the same in every plot.
var systemColors = map[string]color.Color{
	SysRelayd: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	SysMiredo: color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	SysFloor:  color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	SysAsavie: color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// Plot writes one delivered-vs-offered PNG per mode and one PNG of ratio
// bars into dir, named stem-<mode>.png and stem-ratios.png, and returns the
// paths.
func (r *Report) Plot(dir, stem string, modes []Mode) ([]string, error) {
	var files []string
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	for _, m := range modes {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s: delivered vs offered (%s)", m, r.Host)
		p.X.Label.Text = "offered (Mpps)"
		p.Y.Label.Text = "delivered (Mpps)"
		p.Legend.Top = true
		p.Legend.Left = true
		p.Add(plotter.NewGrid())
		maxX := 0.0
		for _, s := range r.Systems {
			var pts plotter.XYs
			for _, st := range s.Steps {
				if st.Mode == m {
					pts = append(pts, plotter.XY{X: st.OfferedPPS / 1e6, Y: st.DeliveredPPS / 1e6})
					maxX = max(maxX, st.OfferedPPS/1e6)
				}
			}
			if len(pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(sortXY(pts))
			if err != nil {
				return files, fmt.Errorf("plot %s %s: %w", m, s.Name, err)
			}
			c := systemColors[s.Name]
			line.Color, points.Color = c, c
			line.Width = vg.Points(1.5)
			p.Add(line, points)
			p.Legend.Add(s.Name, line, points)
		}
		if maxX > 0 {
			ideal := plotter.NewFunction(func(x float64) float64 { return x })
			ideal.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
			ideal.Color = color.Gray{Y: 0x80}
			ideal.XMin, ideal.XMax = 0, maxX
			p.Add(ideal)
			p.Legend.Add("delivered = offered", ideal)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", stem, m))
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
			return files, fmt.Errorf("save %s: %w", path, err)
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
	r.Files = append(r.Files, files...)
	return files, nil
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
