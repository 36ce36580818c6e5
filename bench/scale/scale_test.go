package scale_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agenttrust/agenttrust/bench/scale"
)

// TestRunQuick runs every dimension in Quick mode on the memory store and
// checks that each curve is measured, summarised and plotted.
func TestRunQuick(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := scale.Run(context.Background(), &out, scale.Options{Quick: true, Stores: []string{scale.Memory}, PlotDir: dir, TempDir: t.TempDir()})
	require.NoError(t, err, out.String())
	text := out.String()
	for _, want := range []string{
		`(?m)^keys\s+memory\s+1000\s+\d+\s`,
		`(?m)^policies\s+memory-mixed\s+1000\s+\d+\s`,
		`(?m)^revocations\s+memory\s+1000\s+\d+\s`,
		`(?m)^revocations\s+memory-notify\s+1000\s+\d+\s`,
		`(?m)^depth\s+memory\s+8\s+\d+\s`,
		`(?m)^depth\s+memory-nocache\s+8\s+\d+\s`,
		`the token format stops at 8 hops`,
		`(?m)^summary:`,
	} {
		require.Regexp(t, want, text)
	}
	summary := text[strings.Index(text, "summary:"):]
	for _, series := range []string{`keys\s+memory\s+10\s+1000`, `policies\s+memory-mixed\s+10\s+1000`, `policies\s+memory-same-pair\s+10\s+1000`, `revocations\s+memory-notify\s+10\s+1000`, `depth\s+memory-nocache\s+1\s+8`} {
		require.Regexp(t, `(?m)^`+series+`\s+\d+ -> \d+\s+\d+\.\d\dx\s+(yes|no)`, summary)
	}
	for _, dim := range []string{scale.Keys, scale.Policies, scale.Revocations, scale.Depth} {
		f, err := os.Open(filepath.Join(dir, "scale-"+dim+".png"))
		require.NoError(t, err)
		cfg, err := png.DecodeConfig(f)
		f.Close()
		require.NoError(t, err, dim)
		require.Greater(t, cfg.Width, 100, dim)
	}
}

// TestRunRefuses: unknown names are errors, not empty tables.
func TestRunRefuses(t *testing.T) {
	for _, o := range []scale.Options{
		{Quick: true, Stores: []string{"oracle"}},
		{Quick: true, Stores: []string{scale.Memory}, Dimensions: []string{"tenants"}},
		{Max: 5},
	} {
		require.Error(t, scale.Run(context.Background(), &bytes.Buffer{}, o), "%+v", o)
	}
}

func TestCurveFlat(t *testing.T) {
	for _, tc := range []struct {
		ns   []float64
		flat bool
	}{
		{[]float64{100, 150, 199}, true},
		{[]float64{100, 90, 200}, true},
		{[]float64{100, 120, 201}, false},
		{[]float64{300, 100}, true},
		{[]float64{100}, false},
	} {
		var c scale.Curve
		for i, ns := range tc.ns {
			c.Points = append(c.Points, scale.Point{N: 10 << i, NsPerOp: ns})
		}
		require.Equal(t, tc.flat, c.Flat(), "%v", tc.ns)
	}
}
