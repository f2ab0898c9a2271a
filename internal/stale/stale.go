// Package stale makes room in bounded tables keyed by time: the caches and ban lists that
// hostile input could otherwise fill.
package stale

import "time"

// Evict makes room for one entry in m: it drops every entry whose time (at) is maxAge or
// more before now, or, if none is, the entry with the earliest time. Callers call it only
// when m is full, so its pass over m is paid once per entry added to a full table.
func Evict[K comparable, V any](m map[K]V, at func(V) time.Time, now time.Time, maxAge time.Duration) {
	var oldest K
	var oldestAt time.Time
	found, dropped := false, false
	for k, v := range m {
		switch t := at(v); {
		case now.Sub(t) >= maxAge:
			delete(m, k)
			dropped = true
		case !found || t.Before(oldestAt):
			oldest, oldestAt, found = k, t, true
		}
	}
	if !dropped && found {
		delete(m, oldest)
	}
}
