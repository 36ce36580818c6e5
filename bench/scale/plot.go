package scale

import (
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotCurves draws a dimension's curves, ns/op against size on log
// scales (the sizes grow tenfold, the stores differ by orders of
// magnitude), one line per series, into dir/scale-<dim>.png.
func plotCurves(dir, dim string, cs []Curve) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := plot.New()
	p.Title.Text = "agenttrust Check latency by " + dim
	p.X.Label.Text = dim
	p.Y.Label.Text = "ns/op (median)"
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	var lines []any
	for _, c := range cs {
		if len(c.Points) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(c.Points))
		for i, pt := range c.Points {
			xys[i].X, xys[i].Y = float64(pt.N), pt.NsPerOp
		}
		lines = append(lines, c.Series, xys)
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return "", err
	}
	// Room above the lines for the legend.
	p.Y.Max *= 8
	path := filepath.Join(dir, "scale-"+dim+".png")
	return path, p.Save(20*vg.Centimeter, 12*vg.Centimeter, path)
}
