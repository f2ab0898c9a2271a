package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// The real thing, small: 8 viewers and 8 baseline clients for 20 s, a flash crowd on the
// bundled sample. Only sanity is asserted (everyone played, the baseline ran, the report
// and charts are complete), not performance figures, which depend on the machine's load.
func TestSmallBench(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	out := t.TempDir()
	var printed bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := Run(ctx, Config{Viewers: 8, Duration: 20 * time.Second, Scenario: ScenarioFlash, SampleDir: sampleDir,
		OutDir: out, Out: &printed})
	if err != nil {
		t.Fatalf("%v\n%s", err, printed.String())
	}
	t.Logf("%s", printed.String())

	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Config.Viewers != 8 || rep.Config.Source != SourceSample || rep.Config.BitrateBps <= 0 {
		t.Errorf("config %+v", rep.Config)
	}
	if n := len(rep.Samples); n < 17 || n > 22 {
		t.Errorf("%d samples, want about 20", n)
	}
	if len(rep.Viewers) != 8 {
		t.Fatalf("%d viewers in the report, want 8", len(rep.Viewers))
	}
	for _, v := range rep.Viewers {
		if !v.Joined || v.Swarm.Segments < 1 || v.Swarm.StartupS <= 0 {
			t.Errorf("viewer %d: joined %v, %d segments played, startup %.2f s", v.ID, v.Joined, v.Swarm.Segments, v.Swarm.StartupS)
		}
		if v.Swarm.Requests == 0 || v.Swarm.Refused > v.Swarm.Requests || v.Swarm.Duplicates > v.Swarm.Requests {
			t.Errorf("viewer %d: %d requests, %d refused, %d duplicated", v.ID, v.Swarm.Requests, v.Swarm.Refused, v.Swarm.Duplicates)
		}
		if sw := v.Swarm; sw.BehindLiveS <= 0 || sw.BehindLiveS > 60 || sw.BufferS < 0 || sw.BufferS > sw.BehindLiveS {
			t.Errorf("viewer %d: behind live %.2f s, buffer %.2f s", v.ID, sw.BehindLiveS, sw.BufferS)
		}
		if v.Baseline.Segments < 1 || v.Baseline.Bytes == 0 {
			t.Errorf("baseline client %d: %d segments, %d bytes", v.ID, v.Baseline.Segments, v.Baseline.Bytes)
		}
	}
	last := rep.Samples[len(rep.Samples)-1]
	if last.BaselineServed == 0 || rep.Summary.BaselineOriginX <= 0 {
		t.Errorf("baseline origin: %d bytes served, %vx", last.BaselineServed, rep.Summary.BaselineOriginX)
	}
	if last.SeederSent == 0 || last.FromPeers+last.FromSeeder+last.FromOrigin == 0 {
		t.Errorf("swarm: seeder sent %d, viewers received %d", last.SeederSent, last.FromPeers+last.FromSeeder+last.FromOrigin)
	}
	if sh := rep.Summary.ShareFromPeersSecondHalf; sh < 0 || sh > 1 {
		t.Errorf("second half's share from peers %v", sh)
	}
	if rep.Summary.PropagationAll.Segments == 0 || len(rep.Summary.Targets) != 4 || rep.Summary.Startup.Viewers != 8 {
		t.Errorf("summary %+v", rep.Summary)
	}
	if len(rep.Charts) != 5 {
		t.Errorf("charts %v", rep.Charts)
	}
	for _, name := range rep.Charts {
		svg, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		parseSVG(t, svg)
	}
	for _, want := range []string{"share from peers", "targets", "seeder egress"} {
		if !bytes.Contains(printed.Bytes(), []byte(want)) {
			t.Errorf("summary table lacks %q", want)
		}
	}

	// Everything the run started has stopped: allow the runtime a moment to retire
	// goroutines of closed connections.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines+2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before the run, %d after:\n%s", goroutines, n, buf[:runtime.Stack(buf, true)])
	}
}
