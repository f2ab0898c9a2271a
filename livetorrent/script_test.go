package livetorrent

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual output")

// TestScripts runs the scenarios in testdata/*.txt. Each case is a command, a "----" line
// and the actions the core returned (WakeAt left out), ended by a blank line:
//
//	new viewer latency=6s
//	up 1
//	recv 1 record seg100
//	tick 250ms
//	ctl 1 unchoke
//	data 1 seg100 1000 0
//
// See scriptRunner.exec for every command. Run with -update to rewrite the expectations.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

type scriptCase struct {
	comments []string
	cmd      string
	want     []string
}

func parseScript(t *testing.T, path string) []scriptCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []scriptCase
	var cur scriptCase
	state := 0 // 0: before command, 1: after command, 2: in output
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case state == 0 && (line == "" || strings.HasPrefix(line, "#")):
			cur.comments = append(cur.comments, line)
		case state == 0:
			cur.cmd, state = line, 1
		case state == 1 && line == "----":
			state = 2
		case state == 1:
			t.Fatalf("%s: want ---- after %q, got %q", path, cur.cmd, line)
		case line == "":
			cases = append(cases, cur)
			cur, state = scriptCase{}, 0
		default:
			cur.want = append(cur.want, line)
		}
	}
	if state != 0 {
		cases = append(cases, cur)
	}
	return cases
}

func runScript(t *testing.T, path string) {
	cases := parseScript(t, path)
	r := &scriptRunner{t: t, segs: map[string]testSeg{}}
	var out strings.Builder
	failed := false
	for _, c := range cases {
		got := r.exec(c.cmd)
		if len(got) == 0 {
			got = []string{"ok"}
		}
		for _, l := range c.comments {
			out.WriteString(l + "\n")
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n\n", c.cmd, strings.Join(got, "\n"))
		if !*update && strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			failed = true
			t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", path, c.cmd, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if failed {
		t.Log("run with -update to accept the new output")
	}
}

type scriptRunner struct {
	t    *testing.T
	h    *harness
	segs map[string]testSeg
}

func (r *scriptRunner) exec(cmd string) []string {
	f := strings.Fields(cmd)
	kv := map[string]string{}
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			kv[k] = v
		}
	}
	num := func(i int) uint64 {
		if i >= len(f) {
			r.t.Fatalf("%q: missing argument %d", cmd, i)
		}
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			r.t.Fatalf("%q: %v", cmd, err)
		}
		return n
	}
	kvNum := func(k string, def uint64) uint64 {
		if v, ok := kv[k]; ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				r.t.Fatalf("%q: %v", cmd, err)
			}
			return n
		}
		return def
	}
	kvDur := func(k string, def time.Duration) time.Duration {
		if v, ok := kv[k]; ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				r.t.Fatalf("%q: %v", cmd, err)
			}
			return d
		}
		return def
	}
	var acts []Action
	switch f[0] {
	case "new": // new viewer|publisher [copies=N] [latency=D] [slots=N] [origin=on]
		cfg := Config{Role: RoleViewer, DisableOrigin: kv["origin"] != "on", TargetLatency: kvDur("latency", 0),
			PublisherCopies: int(kvNum("copies", 0)), UnchokeSlots: int(kvNum("slots", 0))}
		if f[1] == "publisher" {
			cfg.Role = RolePublisher
		}
		r.h = newHarness(r.t, cfg)
		return nil
	case "segment": // segment NAME seq=N first=N size=N: sign a record, published now
		seg := r.h.segment(kvNum("seq", 100), kvNum("first", 1000), int(kvNum("size", 70000)))
		r.segs[f[1]] = seg
		return []string{fmt.Sprintf("%s: seq=%d pieces=%d+%d bytes=%d", f[1], seg.rec.MediaSeq, seg.rec.FirstPiece, len(seg.rec.Hashes), seg.rec.Length)}
	case "publish": // publish NAME
		seg := r.segs[f[1]]
		ev := Publish{Record: &seg.rec, RecordRaw: seg.raw, Data: seg.data}
		if r.h.sw.Descriptor() == nil {
			ev.Descriptor, ev.DescriptorRaw = &r.h.desc, r.h.descRaw
		}
		acts = r.h.do(ev)
		if err := r.h.sw.PublishError(); err != nil {
			return []string{"error: " + err.Error()}
		}
	case "up": // up PEER [dseq=N]
		acts = r.h.do(PeerUp{Peer: PeerHandle(num(1)), Addr: "peer" + f[1],
			Ext: protocol.ExtHandshake{LiveID: 1, Version: 1, Reqq: 256, DescriptorSeq: kvNum("dseq", 1)}})
	case "down":
		acts = r.h.do(PeerDown{Peer: PeerHandle(num(1))})
	case "ctl": // ctl PEER choke|unchoke|interested|not-interested
		c := map[string]Control{"choke": Choke, "unchoke": Unchoke, "interested": Interested, "not-interested": NotInterested}[f[2]]
		acts = r.h.ctl(PeerHandle(num(1)), c)
	case "written":
		acts = r.h.do(Written{Peer: PeerHandle(num(1)), Bytes: int(num(2))})
	case "tick": // tick DURATION: advance the clock and deliver a tick
		d, err := time.ParseDuration(f[1])
		if err != nil {
			r.t.Fatal(err)
		}
		acts = r.h.advance(d)
	case "recv":
		acts = r.h.recv(PeerHandle(num(1)), r.message(f[2:], num))
	case "data": // data PEER SEG PIECE OFFSET [bad]: the block of SEG, optionally corrupted
		seg := r.segs[f[2]]
		d := seg.block(num(3), uint32(num(4)))
		if len(f) > 5 && f[5] == "bad" {
			d.Block = append([]byte(nil), d.Block...)
			d.Block[0] ^= 0xff
		}
		acts = r.h.recv(PeerHandle(num(1)), d)
	case "flood": // flood PEER N: N HAVE messages at once, one piece each
		p := PeerHandle(num(1))
		for k := range num(2) {
			acts = r.h.recv(p, protocol.Have{First: 5000 + 2*k, Count: 1})
			if _, ok := r.h.closed(p); ok {
				return append([]string{fmt.Sprintf("closed after %d messages:", k+1)}, actionStrings(acts)...)
			}
		}
	case "stats":
		st := r.h.sw.Stats()
		return []string{fmt.Sprintf("peers=%d tuned=%v start=%d next=%d delivered=%d skipped=%d verified=%d failed=%d up=%d down=%d wasted=%d dups=%d timeouts=%d closes=%d bans=%d window=%d-%d",
			st.Peers, st.TunedIn, st.StartSeq, st.NextSeq, st.SegmentsDelivered, st.SegmentsSkipped, st.PiecesVerified, st.PiecesFailed,
			st.BytesUploaded, st.BytesDownloaded, st.BytesWasted, st.DuplicateRequests, st.RequestTimeouts, st.Closes, st.Bans, st.WindowFirst, st.WindowEnd)}
	default:
		r.t.Fatalf("unknown command %q", cmd)
	}
	return actionStrings(acts)
}

func actionStrings(acts []Action) []string {
	var out []string
	for _, a := range acts {
		out = append(out, a.String())
	}
	return out
}

// message builds a live message from script words: descriptor | record SEG | window A B |
// have FIRST COUNT | request|cancel PIECE OFF LEN | reject PIECE OFF LEN REASON.
func (r *scriptRunner) message(w []string, num func(int) uint64) protocol.Message {
	n := func(i int) uint64 { return num(i + 2) }
	ref := func() protocol.BlockRef {
		return protocol.BlockRef{Piece: n(1), Offset: uint32(n(2)), Length: uint32(n(3))}
	}
	switch w[0] {
	case "descriptor":
		return protocol.DescriptorMsg{Raw: r.h.descRaw}
	case "record":
		return protocol.RecordMsg{Raw: r.segs[w[1]].raw}
	case "window":
		return protocol.Window{First: n(1), End: n(2)}
	case "have":
		return protocol.Have{First: n(1), Count: uint32(n(2))}
	case "request":
		return protocol.Request{BlockRef: ref()}
	case "cancel":
		return protocol.Cancel{BlockRef: ref()}
	case "reject":
		return protocol.Reject{BlockRef: ref(), Reason: protocol.RejectReason(n(4))}
	}
	r.t.Fatalf("unknown message %q", w[0])
	return nil
}
