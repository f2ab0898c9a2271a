#!/usr/bin/env sh
# Makes the bundled demo sample: a 12 s VOD HLS stream (MPEG-TS, six 2 s segments,
# 320x180 at 25 fps, ~150 kbit/s H.264 + 48 kbit/s AAC, test picture and a 440 Hz tone).
# `seeder --loop testdata/sample/index.m3u8` replays it forever as a live stream, so a demo
# needs no encoder. Every segment starts with a keyframe (GOP = segment length), so the
# stream can be joined at any segment and looped without decoder errors.
#
# Usage: testdata/sample/make.sh   (needs ffmpeg; rewrites the files next to this script)
set -eu
cd "$(dirname "$0")"
rm -f index.m3u8 seg*.ts
ffmpeg -hide_banner -loglevel error -nostdin \
  -f lavfi -i "testsrc2=size=320x180:rate=25" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 12 \
  -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p \
  -b:v 150k -maxrate 150k -bufsize 300k \
  -g 50 -keyint_min 50 -sc_threshold 0 -force_key_frames "expr:gte(t,n_forced*2)" \
  -c:a aac -b:a 48k -ac 2 \
  -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
  -f hls -hls_time 2 -hls_list_size 0 -hls_playlist_type vod \
  -hls_flags independent_segments \
  -hls_segment_filename "seg%03d.ts" \
  index.m3u8
ls -l index.m3u8 seg*.ts
