// Package seeder is the origin-ingest side of a LiveTorrent publisher: it follows an HLS
// source (an http(s) playlist URL, or a folder an encoder such as ffmpeg writes into), fetches
// every new segment with bounded sizes, timeouts and retries, cuts it into pieces, signs a
// record for it with the publisher key, and hands descriptor, records and piece bytes to a
// Publisher (the swarm engine).
//
// The pieces:
//
//   - Ingest (ingest.go, live.go, loop.go) polls the source like an HLS client (RFC 8216
//     §6.3.4), survives origin faults (HTTP errors, timeouts, garbage playlists, truncated
//     segments, a playlist that stops updating, media-sequence gaps, an encoder restart) and
//     can replay a finished playlist forever as a live stream (loop mode).
//   - Packager (packager.go) turns fetched segments into signed records with a piece
//     allocator that never reuses a piece number, even across restarts with the same key.
//   - Key files (keyfile.go): LoadOrCreateKey and Keygen keep the publisher key in a 0600
//     PEM file.
//
// Everything that reads the time goes through a Clock, and HTTP through a caller-supplied
// *http.Client, so the package is tested against real HTTP servers with a stepped clock.
package seeder
