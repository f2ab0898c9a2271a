// Package sim simulates a LiveTorrent swarm of thousands of viewers in virtual time. Every
// node runs the real engine core (livetorrent.Swarm): one seeder publishing a live stream,
// N viewers, and an HTTP origin for the fallback. There are no sockets and no clock: the
// simulator carries the cores' messages over a modelled network (per-node uplink and
// downlink capacity, per-link latency, loss as TCP's reduced throughput and retransmit
// delay, churn, route failures) and feeds their timers from virtual time. Runs are
// deterministic: the same scenario and seed give the same figures, bit for bit, whatever
// the number of worker goroutines.
//
// Pieces carry lengths, not bytes (livetorrent.Config.NoPayload): hashing and storing
// every viewer's copy would take gigabytes per simulated second. Nothing is verified, so
// hostile peers are not modelled.
//
// Time advances in windows no longer than the smallest latency between two nodes: within
// one, no node can affect another, so the nodes of a window are processed in parallel, and
// the messages they sent wait by window of arrival until their receivers process them in
// a total order of time, sender and emission. See NOTES.md for the model, its costs and
// its limits.
//
// A scenario (see Scenario and testdata/*.txt) sets the stream, the network and the timed
// joins, leaves and route cuts. Run returns the benchmark's report (internal/bench: the
// same JSON shape and charts) and a compact text summary that the scenario tests compare
// with golden files.
package sim
