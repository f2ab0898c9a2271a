package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// plot draws one chart as SVG: a title, a legend under it, a frame with ticked and
// labelled axes (an optional second y axis on the right), and the marks added to it in data
// coordinates. Marks are drawn when the picture is rendered, once the legend's height (and
// so the frame's top) is known.
type plot struct {
	title, xLabel, yLabel, y2Label string
	xr, yr, y2r                    span
	marks                          []func(*bytes.Buffer)
	legend                         []legendEntry
	top                            float64 // the frame's top edge, set by svg
	logX                           bool
}

// span is a data range.
type span struct{ lo, hi float64 }

type legendEntry struct {
	name, color string
	dashed      bool
}

// Picture size and margins, in pixels.
const (
	plotW, plotH                    = 760.0, 400.0
	marginL, marginR, marginB       = 70.0, 70.0, 50.0
	titleH, legendRowH              = 36.0, 18.0
	frameR, frameB                  = plotW - marginR, plotH - marginB
	tickCount                       = 6
	fontFamily                      = "sans-serif"
	charW                           = 6.5 // a rough width of a 12 px character, to lay out the legend
	gridColor, axisColor, textColor = "#dddddd", "#333333", "#222222"
)

// newPlot makes a plot whose axes cover xr and yr, widened to round tick values.
func newPlot(title, xLabel, yLabel string, xr, yr span) *plot {
	return &plot{title: title, xLabel: xLabel, yLabel: yLabel, xr: niceSpan(xr), yr: niceSpan(yr)}
}

// withRightAxis adds a second y axis, for series in other units.
func (p *plot) withRightAxis(label string, r span) *plot {
	p.y2Label, p.y2r = label, niceSpan(r)
	return p
}

// withLogX makes the x axis logarithmic over r (positive), for delays that span decades.
func (p *plot) withLogX(r span) *plot {
	p.logX = true
	r.lo = max(r.lo, 1e-9)
	p.xr = span{math.Pow(10, math.Floor(math.Log10(r.lo))), math.Pow(10, math.Ceil(math.Log10(max(r.hi, r.lo*10))))}
	return p
}

func (p *plot) px(x float64) float64 {
	if p.logX {
		return marginL + math.Log10(x/p.xr.lo)/math.Log10(p.xr.hi/p.xr.lo)*(frameR-marginL)
	}
	return marginL + (x-p.xr.lo)/(p.xr.hi-p.xr.lo)*(frameR-marginL)
}

// xTicks are the x axis' ticks and their labels: 1, 2 and 5 of each decade on a log axis.
func (p *plot) xTicks() ([]float64, []string) {
	if !p.logX {
		ts := ticks(p.xr)
		labels := make([]string, len(ts))
		for i, t := range ts {
			labels[i] = tickLabel(t, p.xr)
		}
		return ts, labels
	}
	var ts []float64
	var labels []string
	for d := p.xr.lo; d <= p.xr.hi*(1+1e-9); d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if t := d * m; t <= p.xr.hi*(1+1e-9) {
				ts = append(ts, t)
				labels = append(labels, strconv.FormatFloat(t, 'g', -1, 64))
			}
		}
	}
	return ts, labels
}

func (p *plot) py(y float64, right bool) float64 {
	r := p.yr
	if right {
		r = p.y2r
	}
	return frameB - (y-r.lo)/(r.hi-r.lo)*(frameB-p.top)
}

// line adds a series as a polyline (points with a NaN coordinate are left out) and names
// it in the legend.
func (p *plot) line(name, color string, xs, ys []float64, dashed, right bool) {
	p.marks = append(p.marks, func(b *bytes.Buffer) {
		var pts []string
		for i := range min(len(xs), len(ys)) {
			if math.IsNaN(xs[i]) || math.IsNaN(ys[i]) {
				continue
			}
			pts = append(pts, coord(p.px(xs[i]))+","+coord(p.py(ys[i], right)))
		}
		fmt.Fprintf(b, `<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n",
			esc(name), color, dashArray(dashed), strings.Join(pts, " "))
	})
	p.legend = append(p.legend, legendEntry{name: name, color: color, dashed: dashed})
}

func dashArray(dashed bool) string {
	if dashed {
		return ` stroke-dasharray="6,4"`
	}
	return ""
}

// bar adds a bar from y=0 (or the axis' low end) to y over [x0, x1].
func (p *plot) bar(x0, x1, y float64, color string) {
	p.marks = append(p.marks, func(b *bytes.Buffer) {
		top, bottom := p.py(y, false), p.py(max(p.yr.lo, 0), false)
		fmt.Fprintf(b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
			coord(p.px(x0)), coord(top), coord(max(p.px(x1)-p.px(x0), 0.5)), coord(max(bottom-top, 0)), color)
	})
}

// key adds a legend entry for marks that are not lines (bars).
func (p *plot) key(name, color string) {
	p.legend = append(p.legend, legendEntry{name: name, color: color})
}

// svg renders the plot.
func (p *plot) svg() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="%s" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH, fontFamily)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="24" text-anchor="middle" font-size="16" fill="%s">%s</text>`+"\n", plotW/2, textColor, esc(p.title))
	p.top = p.drawLegend(&b, titleH) + 10
	p.axes(&b)
	for _, m := range p.marks {
		m(&b)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// axes draws the grid, the frame, the ticks and the axis labels.
func (p *plot) axes(b *bytes.Buffer) {
	xs, labels := p.xTicks()
	for i, t := range xs {
		x := coord(p.px(t))
		fmt.Fprintf(b, `<line x1="%s" y1="%g" x2="%s" y2="%g" stroke="%s"/>`+"\n", x, p.top, x, frameB, gridColor)
		fmt.Fprintf(b, `<text x="%s" y="%g" text-anchor="middle" fill="%s">%s</text>`+"\n", x, frameB+16, textColor, labels[i])
	}
	for _, t := range ticks(p.yr) {
		y := coord(p.py(t, false))
		fmt.Fprintf(b, `<line x1="%g" y1="%s" x2="%g" y2="%s" stroke="%s"/>`+"\n", marginL, y, frameR, y, gridColor)
		fmt.Fprintf(b, `<text x="%g" y="%s" text-anchor="end" dominant-baseline="middle" fill="%s">%s</text>`+"\n", marginL-6, y, textColor, tickLabel(t, p.yr))
	}
	if p.y2Label != "" {
		for _, t := range ticks(p.y2r) {
			y := coord(p.py(t, true))
			fmt.Fprintf(b, `<text x="%g" y="%s" dominant-baseline="middle" fill="%s">%s</text>`+"\n", frameR+6, y, textColor, tickLabel(t, p.y2r))
		}
		fmt.Fprintf(b, `<text transform="translate(%g %g) rotate(90)" text-anchor="middle" fill="%s">%s</text>`+"\n",
			plotW-16, (p.top+frameB)/2, textColor, esc(p.y2Label))
	}
	fmt.Fprintf(b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="%s"/>`+"\n",
		marginL, p.top, frameR-marginL, frameB-p.top, axisColor)
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle" fill="%s">%s</text>`+"\n", (marginL+frameR)/2, plotH-10, textColor, esc(p.xLabel))
	fmt.Fprintf(b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle" fill="%s">%s</text>`+"\n",
		(p.top+frameB)/2, textColor, esc(p.yLabel))
}

// drawLegend lays the legend out in rows under the title, from y on, and returns where
// it ends: outside the frame, it never hides a series.
func (p *plot) drawLegend(b *bytes.Buffer, y float64) float64 {
	x := marginL
	if len(p.legend) > 0 {
		y += legendRowH
	}
	for _, e := range p.legend {
		w := 30 + charW*float64(len(e.name)) + 18
		if x+w > frameR && x > marginL {
			x, y = marginL, y+legendRowH
		}
		fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="3"%s/>`+"\n", x, y-4, x+24, y-4, e.color, dashArray(e.dashed))
		fmt.Fprintf(b, `<text class="legend" x="%g" y="%g" fill="%s">%s</text>`+"\n", x+30, y, textColor, esc(e.name))
		x += w
	}
	return y
}

// niceSpan widens r to multiples of its tick step; an empty or inverted range becomes [lo,
// lo+1] so the scale stays defined.
func niceSpan(r span) span {
	if math.IsNaN(r.lo) || math.IsNaN(r.hi) || math.IsInf(r.lo, 0) || math.IsInf(r.hi, 0) {
		return span{0, 1}
	}
	if r.hi <= r.lo {
		r.hi = r.lo + 1
	}
	step := tickStep(r)
	// A hair over a tick (20.0003 s) does not deserve another step.
	const slack = 1e-3
	return span{math.Floor(r.lo/step+slack) * step, math.Ceil(r.hi/step-slack) * step}
}

// tickStep is 1, 2 or 5 times a power of ten, giving about tickCount ticks over r.
func tickStep(r span) float64 {
	raw := (r.hi - r.lo) / tickCount
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func ticks(r span) []float64 {
	step := tickStep(r)
	var ts []float64
	for i := 0; ; i++ {
		t := math.Ceil(r.lo/step)*step + float64(i)*step
		if t > r.hi+step/1e6 || i > 100 {
			return ts
		}
		ts = append(ts, t)
	}
}

// tickLabel prints a tick with as many decimals as the step needs.
func tickLabel(v float64, r span) string {
	decimals := max(0, -int(math.Floor(math.Log10(tickStep(r)))))
	if math.Abs(v) < 1e-12 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// esc escapes text for XML.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
