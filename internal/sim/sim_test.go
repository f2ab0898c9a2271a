package sim

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the actual summaries")

func loadScenario(t testing.TB, path string) *Scenario {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc, err := Parse(strings.TrimSuffix(filepath.Base(path), ".txt"), f)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestScenarios runs every testdata/*.txt scenario and compares its summary with the
// .golden file beside it. Run with -update to rewrite them after a deliberate change.
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			t.Parallel()
			res, err := Run(loadScenario(t, path), Options{Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			checkPlayback(t, res)
			got := res.Text()
			golden := strings.TrimSuffix(path, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("summary differs from %s (run with -update if the change is intended):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// checkPlayback: every viewer that played reports where it played, 2 to 60 s behind the live
// edge (the default latency is 8 s; stalls add to it), and a buffer between nothing and that.
func checkPlayback(t *testing.T, res *Result) {
	t.Helper()
	for _, v := range res.Report.Viewers {
		sw := v.Swarm
		if sw.Segments == 0 {
			continue
		}
		if sw.BehindLiveS < 2 || sw.BehindLiveS > 60 || sw.BufferS < 0 || sw.BufferS > sw.BehindLiveS {
			t.Errorf("viewer %d: behind live %.2f s, buffer %.2f s", v.ID, sw.BehindLiveS, sw.BufferS)
		}
	}
}

// TestWorkersAgree: the same scenario gives the same run, event for event, with one worker
// and with several (nodes are independent within a window; merging is order-free).
func TestWorkersAgree(t *testing.T) {
	sc := loadScenario(t, "testdata/churn.txt")
	var texts []string
	for _, w := range []int{1, 2} {
		res, err := Run(sc, Options{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, res.Text())
	}
	for i, w := range []int{2} {
		if texts[i+1] != texts[0] {
			t.Errorf("%d workers differ from one:\n--- %d\n%s\n--- 1\n%s", w, w, texts[i+1], texts[0])
		}
	}
}

// TestLarge runs the figure, 10,000 viewers for 10 simulated minutes of a 3 Mbit/s
// stream, when asked: go test ./internal/sim -run TestLarge -large (tens of minutes on two
// cores; never in CI).
func TestLarge(t *testing.T) {
	if !*large {
		t.Skip("the 10,000-viewer run takes long: pass -large")
	}
	text, err := Builtin(ScenarioFlash, 10_000, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Parse("flash-10k", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(sc, Options{Workers: runtime.NumCPU(), Progress: testWriter{t}, ProgressEvery: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	res.PrintSummary(&b)
	t.Log("\n" + b.String())
	if s := res.Report.Summary; s.SwarmNeverPlayed > 0 {
		t.Errorf("%d viewers never played", s.SwarmNeverPlayed)
	}
}

var large = flag.Bool("large", false, "run the 10,000-viewer simulation")

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
