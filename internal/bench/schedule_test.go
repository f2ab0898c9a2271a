package bench

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func planFor(t *testing.T, cfg Config) []slot {
	t.Helper()
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	return plan(cfg, 8000) // 1000 bytes/s: caps read as multiples
}

func TestPlanIsReproducible(t *testing.T) {
	cfg := Config{Viewers: 30, Duration: time.Minute, Scenario: ScenarioChurn}
	a, b := planFor(t, cfg), planFor(t, cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same configuration gave two plans")
	}
	cfg.Seed = 2
	if reflect.DeepEqual(a, planFor(t, cfg)) {
		t.Fatal("another seed gave the same plan")
	}
}

func TestPlanResidentialCaps(t *testing.T) {
	slots := planFor(t, Config{Viewers: 50, Duration: time.Minute})
	weak := 0
	for _, s := range slots {
		switch {
		case s.UploadRate == 50:
			weak++
		case s.UploadRate < 1000 || s.UploadRate > 3000:
			t.Errorf("viewer %d uploads %d bytes/s, want 1x to 3x", s.ID, s.UploadRate)
		}
		if s.DownloadRate != 10_000 {
			t.Errorf("viewer %d downloads %d bytes/s, want 10x", s.ID, s.DownloadRate)
		}
		if s.Join > flashWindow {
			t.Errorf("viewer %d joins at %v, after the flash crowd", s.ID, s.Join)
		}
	}
	if weak != 5 {
		t.Errorf("%d near-zero uplinks of 50, want 5", weak)
	}
}

func TestPlanScenarios(t *testing.T) {
	steady := planFor(t, Config{Viewers: 10, Duration: 100 * time.Second, Scenario: ScenarioSteady, Profile: ProfileUniform})
	for i, s := range steady {
		if want := time.Duration(i) * 3 * time.Second; s.Join != want || s.UploadRate != 1500 {
			t.Errorf("steady viewer %d: joins %v uploads %d, want %v and 1500", i, s.Join, s.UploadRate, want)
		}
	}
	for _, s := range planFor(t, Config{Viewers: 10, Duration: time.Minute, Scenario: ScenarioSlow}) {
		if s.UploadRate != 250 {
			t.Errorf("slow viewer %d uploads %d", s.ID, s.UploadRate)
		}
	}
	cut := planFor(t, Config{Viewers: 20, Duration: time.Minute, Scenario: ScenarioRouteCut})
	n := 0
	for i, s := range cut {
		if s.Cut {
			n++
			if i < 2 {
				t.Errorf("viewer %d, among the first two, is cut", i)
			}
		}
	}
	if n != 5 {
		t.Errorf("%d cut viewers of 20, want 5", n)
	}
}

// A short run still churns twice; the audience stays at its size.
func TestPlanChurn(t *testing.T) {
	slots := planFor(t, Config{Viewers: 10, Duration: 30 * time.Second, Scenario: ScenarioChurn})
	if len(slots) != 14 {
		t.Fatalf("%d slots, want 10 and 2 rounds of 2 replacements", len(slots))
	}
	leaves := map[time.Duration]int{}
	for _, s := range slots {
		if s.Leave > 0 {
			leaves[s.Leave]++
			if s.Leave < s.Join {
				t.Errorf("viewer %d leaves at %v before joining at %v", s.ID, s.Leave, s.Join)
			}
		}
	}
	if len(leaves) != 2 || leaves[10*time.Second] != 2 || leaves[20*time.Second] != 2 {
		t.Errorf("leaves %v, want 2 at 10 s and 2 at 20 s", leaves)
	}
	present := 0
	for _, e := range events(slots) {
		if e.Leave {
			present--
		} else {
			present++
		}
		if present > 10 {
			t.Fatalf("%d viewers at %v", present, e.At)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Rate{"2x": {Multiple: 2}, "1.5X": {Multiple: 1.5}, "500k": {BytesPerSec: 500_000}, "0": {Unlimited: true}} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-1x", "fast"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	if got := (Rate{Multiple: 2}).bytesPerSec(8000); got != 2000 {
		t.Errorf("2x of 8000 bit/s: %d bytes/s", got)
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		says string
	}{
		{Config{Viewers: 1001}, "viewers"},
		{Config{Duration: time.Second}, "duration"},
		{Config{Scenario: "stampede"}, "scenario"},
		{Config{BitrateBps: 100_000}, "bitrate"},
		{Config{Churn: 0.95}, "churn"},
		{Config{StartupDelay: -time.Second}, "startup delay"},
		{Config{StartupDelay: time.Minute}, "startup delay"},
	} {
		err := c.cfg.Normalize()
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %v, want an error about %s", c.cfg, err, c.says)
		}
	}
	ok := Config{StartupDelay: 3 * time.Second}
	if err := ok.Normalize(); err != nil || ok.StartupDelay != 3*time.Second {
		t.Errorf("startup delay 3s: %v, kept %v", err, ok.StartupDelay)
	}
}
