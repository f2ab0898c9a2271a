package stale

import (
	"testing"
	"time"
)

func TestEvict(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(v time.Time) time.Time { return v }
	// Expired entries go, all of them, and nothing else.
	m := map[string]time.Time{"a": t0, "b": t0.Add(time.Second), "c": t0.Add(50 * time.Second)}
	Evict(m, at, t0.Add(60*time.Second), 30*time.Second)
	if len(m) != 1 || m["c"] != t0.Add(50*time.Second) {
		t.Fatalf("after dropping the expired: %v", m)
	}
	// None expired: the oldest goes.
	m = map[string]time.Time{"a": t0.Add(2 * time.Second), "b": t0, "c": t0.Add(time.Second)}
	Evict(m, at, t0.Add(3*time.Second), time.Minute)
	if _, ok := m["b"]; ok || len(m) != 2 {
		t.Fatalf("after dropping the oldest: %v", m)
	}
	Evict(map[string]time.Time{}, at, t0, time.Minute) // empty: nothing to do
}
