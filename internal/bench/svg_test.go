package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/status"
)

// parseSVG decodes a whole SVG document and returns its polylines' names and point counts,
// and the text of its <text> elements.
func parseSVG(t *testing.T, b []byte) (lines map[string]int, texts []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	lines = map[string]int{}
	var inText bool
	var root string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not valid XML: %v\n%s", err, b)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
			}
			inText = el.Name.Local == "text"
			if el.Name.Local == "polyline" {
				var name, points string
				for _, a := range el.Attr {
					switch a.Name.Local {
					case "data-name":
						name = a.Value
					case "points":
						points = a.Value
					}
				}
				lines[name] = len(strings.Fields(points))
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(el))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return lines, texts
}

func handMadeReport() *Report {
	rep := &Report{Config: ReportConfig{Viewers: 3, BitrateBps: 8000}}
	rep.Samples = steadySamples(12, 1100, 20_000)
	for i := range rep.Samples {
		rep.Samples[i].HeapMiBPerViewer = 1.5
		rep.Samples[i].CPUPercentPerViewer = 2
		rep.Samples[i].ShareFromPeersTotal = 0.9
	}
	rep.Viewers = []ViewerResult{{ID: 0}, {ID: 1, Swarm: SwarmViewer{Stalls: 2}}, {ID: 2, Baseline: clientStats{Stalls: 5}}}
	rep.Propagation = status.Histogram{Bounds: []time.Duration{100 * time.Millisecond, time.Second, 2 * time.Second},
		Counts: []int64{6, 3, 1, 0}}
	cpu := 2.0
	rep.Summary.CPUPercentPerViewer = &cpu
	return rep
}

func TestChartsAreValidSVG(t *testing.T) {
	want := map[string][]string{
		"egress.svg":      {"HTTP only: origin", "LiveTorrent: seeder + origin (ingest, fallback)", "LiveTorrent: seeder alone"},
		"share.svg":       {"4 s average", "since the start"},
		"propagation.svg": {"second half (0 segments)", "whole run, with tune-in (10)"},
		"resources.svg":   {"CPU (left)", "heap (right)"},
	}
	rep := handMadeReport()
	files := charts(rep)
	if len(files) != 5 {
		t.Fatalf("%d charts, want 5", len(files))
	}
	for _, c := range files {
		lines, texts := parseSVG(t, c.svg)
		joined := strings.Join(texts, "|")
		for _, name := range want[c.file] {
			n, ok := lines[name]
			if !ok {
				t.Errorf("%s: no series %q (has %v)", c.file, name, lines)
				continue
			}
			if c.file != "propagation.svg" && n != len(rep.Samples) {
				t.Errorf("%s: series %q has %d points, want %d", c.file, name, n, len(rep.Samples))
			}
			if !strings.Contains(joined, name) {
				t.Errorf("%s: legend lacks %q", c.file, name)
			}
		}
		if len(texts) < 8 {
			t.Errorf("%s: %d texts: no title, ticks or labels?", c.file, len(texts))
		}
	}
	// The CDF: one point per bound up to the last bucket with data.
	if lines, _ := parseSVG(t, files[3].svg); lines["whole run, with tune-in (10)"] != 3 {
		t.Errorf("CDF has %d points, want 3", lines["whole run, with tune-in (10)"])
	}
	// Stalls: two bars per viewer, and the legend.
	stalls := string(files[2].svg)
	if n := strings.Count(stalls, `<rect class="bar"`); n != 2*len(rep.Viewers) {
		t.Errorf("stalls chart has %d bars, want %d", n, 2*len(rep.Viewers))
	}
	for _, name := range []string{"LiveTorrent viewer", "HTTP-only client"} {
		if !strings.Contains(stalls, ">"+name+"<") {
			t.Errorf("stalls chart lacks %q", name)
		}
	}
}

// Titles and names are escaped: a stray character cannot break the document.
func TestChartEscapesText(t *testing.T) {
	p := newPlot(`a < b & "c"`, "x", "y", span{0, 1}, span{0, 1})
	p.line("<series>", colorSeeder, []float64{0, 1}, []float64{0, 1}, false, false)
	lines, texts := parseSVG(t, p.svg())
	if lines["<series>"] != 2 || !strings.Contains(strings.Join(texts, ""), `a < b & "c"`) {
		t.Errorf("lines %v texts %v", lines, texts)
	}
}

func TestTicks(t *testing.T) {
	s := niceSpan(span{0, 20.0003})
	if s.hi != 20 {
		t.Errorf("span %+v, want up to 20", s)
	}
	got := ticks(s)
	if len(got) < 4 || got[0] != 0 || got[len(got)-1] != 20 {
		t.Errorf("ticks %v", got)
	}
	if l := tickLabel(0.4, span{0, 1}); l != "0.4" {
		t.Errorf("label %q, want 0.4", l)
	}
	if l := tickLabel(20, span{0, 25}); l != "20" {
		t.Errorf("label %q, want 20", l)
	}
	if s := niceSpan(span{3, 3}); s.hi <= s.lo {
		t.Errorf("empty span %+v", s)
	}
}
