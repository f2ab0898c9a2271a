// Package leecher is the viewer's player-facing output: it takes the complete, verified
// segments the swarm engine delivers in playback order and feeds them to a media player.
//
// One Output keeps a bounded window of recent segments and serves three kinds of player:
//
//   - HTTP (Output is an http.Handler): a sliding live HLS media playlist at /live.m3u8 and
//     the segments it lists (/seg/N.ts or /seg/N.m4s, /init/N.mp4), for any HLS player.
//   - A byte stream (Stream): MPEG-TS segments concatenated, or for fMP4 the init segment
//     followed by the media fragments, written to an io.Writer such as stdout, for
//     `leecher play LINK | mpv -`.
//   - A player process (StartPlayer): mpv or ffplay started on the playlist URL or fed the
//     byte stream on its stdin, stopped when the leecher stops.
//
// The engine calls Deliver for each segment and Skip for each segment it gave up; neither
// blocks on a player. The local playlist numbers segments itself: its media sequence
// follows the records' media sequence until a segment is lost, after which the two differ
// by the number of segments lost, and every loss becomes an EXT-X-DISCONTINUITY so the
// playlist stays valid (consecutive sequence numbers) without EXT-X-GAP, which common
// players do not understand.
package leecher
