// Package bench measures a LiveTorrent swarm against plain HLS on one machine, side by side
// in the same run.
//
// One origin feeds both sides: the bundled sample looped as a live stream, or a live ffmpeg
// encode at a chosen bitrate. On the LiveTorrent side a seeder publishes the stream and N
// viewers (in-process leechers on loopback TCP, each with its own upload and download caps)
// swarm it, fetching from the origin only when peers would be late. On the baseline side N
// plain HLS clients poll a second origin server, serving the same stream, and download every
// segment from it, as players do today. Both origins count the bytes they send, so the two
// approaches' egress is measured separately.
//
// Both sides use one playback model: a viewer starts playing when its first segment is
// complete and plays each segment for its duration; a segment that is not complete when the
// playhead reaches it is a stall (playback waits for it). The swarm side's figures come from
// the viewers' own status snapshots (the same figures /metrics shows), sampled once a
// second; CPU and heap are the whole process's (seeder, viewers, baseline clients and
// origins together) divided by the number of viewers running, an in-process estimate that
// overstates what one viewer costs.
//
// Run writes a JSON report (configuration, time series, per-viewer results and a summary)
// and SVG charts into an output folder, and prints a summary table.
package bench
