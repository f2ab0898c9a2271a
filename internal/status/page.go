package status

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"time"
)

// The page refreshes itself so it can be left open beside a player without scripts.
const pageSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 0.3em 1em; border-bottom: 1px solid #ddd; text-align: left; }
th { font-weight: normal; color: #555; }
td { font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<table>
{{- range .Rows}}
<tr><th scope="row">{{.Label}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table>
</body>
</html>
`

type statusPage struct {
	tmpl *template.Template
}

func newStatusPage() *statusPage {
	return &statusPage{tmpl: template.Must(template.New("status").Parse(pageSource))}
}

type pageRow struct {
	Label, Value string
}

type pageView struct {
	Title string
	Rows  []pageRow
}

// render executes into a buffer so that a template error becomes a clean 500 rather
// than half a page.
func (p *statusPage) render(s Snapshot) ([]byte, error) {
	var buf bytes.Buffer
	if err := p.tmpl.Execute(&buf, viewOf(s)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func viewOf(s Snapshot) pageView {
	v := pageView{Title: "livetorrent"}
	if s.Role == "" {
		v.Title += ": waiting for the first sample"
		return v
	}
	v.Title += " " + s.Role
	if s.Name != "" {
		v.Title += ": " + s.Name
	}
	add := func(label, value string) { v.Rows = append(v.Rows, pageRow{label, value}) }
	count := func(n int64) string { return strconv.FormatInt(n, 10) }

	add("Role", s.Role)
	add("Stream", s.Stream)
	if s.Name != "" {
		add("Name", s.Name)
	}
	add("Uptime", s.Uptime.Round(time.Second).String())
	add("Peers", strconv.Itoa(s.Peers))
	add("Upload", humanRate(s.SendRate))
	if s.Role == "seeder" {
		add("Egress multiple", multiple(s.EgressMultiple))
		add("Stream bitrate", fmt.Sprintf("%.0f kbit/s", s.BitrateBps/1000))
		add("Segments published", count(s.SegmentsPublished))
		add("Sent", humanBytes(float64(s.BytesSent)))
		return v
	}
	add("Download", humanRate(s.ReceiveRate))
	add("Share from peers", percent(s.ShareFromPeers()))
	add("From peers", humanBytes(float64(s.BytesFromPeers)))
	add("From seeder", humanBytes(float64(s.BytesFromSeeder)))
	add("From origin", humanBytes(float64(s.BytesFromOrigin)))
	add("Sent", humanBytes(float64(s.BytesSent)))
	add("Pieces verified", count(s.PiecesVerified))
	add("Pieces rejected", count(s.PiecesRejected))
	add("Deadline misses", count(s.DeadlineMisses))
	add("Segments played", count(s.SegmentsPlayed))
	add("Segments skipped", count(s.SegmentsSkipped))
	add("Start moved (retunes)", count(s.Retunes))
	add("Requests (refused, duplicated)", fmt.Sprintf("%s (%s, %s)", count(s.RequestsSent),
		count(s.RequestsRefused), count(s.DuplicateRequests)))
	add("Received, not needed", humanBytes(float64(s.BytesWasted)))
	add("Stalls", fmt.Sprintf("%d (%s waiting)", s.Stalls, seconds(s.StallTime)))
	add("Buffer ahead", seconds(s.BufferAhead))
	add("Behind live", seconds(s.BehindLive))
	add("Propagation p50 / p95", fmt.Sprintf("%s / %s (%d segments)",
		milliseconds(s.Propagation.Quantile(0.5)), milliseconds(s.Propagation.Quantile(0.95)),
		s.Propagation.Total()))
	return v
}

func milliseconds(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}
