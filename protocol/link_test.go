package protocol_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

func sampleLink() protocol.Link {
	return protocol.Link{
		Stream:   prototest.Stream(),
		Name:     "Test Channel",
		Trackers: []string{"udp://tracker.example:6969/announce", "http://tracker.example/announce?x=1&y=2"},
		Peers:    []string{"192.0.2.1:6881", "[2001:db8::1]:6881", "seed.example:7000"},
		Origin:   "https://origin.example/live/master.m3u8",
	}
}

func TestLinkGolden(t *testing.T) {
	l := sampleLink()
	want := "magnet:?xs=urn:btpk:831acfa26c9bebe6415b7b5608064d32bc05d3bd898bc2a14dbb4d75fd38a1e2" +
		"&s=6368616e6e656c2d31&dn=Test+Channel" +
		"&tr=udp%3A%2F%2Ftracker.example%3A6969%2Fannounce" +
		"&tr=http%3A%2F%2Ftracker.example%2Fannounce%3Fx%3D1%26y%3D2" +
		"&x.pe=192.0.2.1%3A6881&x.pe=%5B2001%3Adb8%3A%3A1%5D%3A6881&x.pe=seed.example%3A7000" +
		"&x.origin=https%3A%2F%2Forigin.example%2Flive%2Fmaster.m3u8"
	if got := l.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	got, err := protocol.ParseLink(want)
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("parse: %+v %v", got, err)
	}
	min := protocol.Link{Stream: protocol.Stream{Key: l.Stream.Key}}
	if got, err := protocol.ParseLink(min.String()); err != nil || !reflect.DeepEqual(got, min) {
		t.Fatalf("key-only link: %+v %v", got, err)
	}
}

func TestLinkAccepts(t *testing.T) {
	key := prototest.Stream().Key.String()
	ih := prototest.Stream().InfoHash().String()
	for _, s := range []string{
		"magnet:?xs=urn:btpk:" + strings.ToUpper(key) + "&s=6368616E6E656C2D31",
		"magnet:?dn=x&xs=urn:btpk:" + key + "&s=6368616e6e656c2d31&xt=urn:btih:" + ih,
		"magnet:?xs=urn:btpk:" + key + "&s=6368616e6e656c2d31&unknown=1&x.other=2",
		"magnet:?xs=urn:btpk:" + key + "&s=6368616e6e656c2d31&xt=urn:btih:" + strings.Repeat("a", 32),
		// ";" is an ordinary character (spec 3.1), in a known or an unknown parameter.
		"magnet:?xs=urn:btpk:" + key + "&s=6368616e6e656c2d31&dn=a;b&x.foo=c;d&&",
	} {
		l, err := protocol.ParseLink(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if l.Stream.InfoHash().String() != ih {
			t.Errorf("%s: info-hash %s", s, l.Stream.InfoHash())
		}
	}
}

func TestLinkRejects(t *testing.T) {
	key := prototest.Stream().Key.String()
	base := "magnet:?xs=urn:btpk:" + key
	cases := map[string]error{
		"http://x": protocol.ErrInvalid,
		"magnet:?xt=urn:btih:" + strings.Repeat("0", 40): protocol.ErrInvalid,
		"magnet:?xs=urn:btpk:abcd":                       protocol.ErrInvalid,
		"magnet:?xs=urn:btpk:" + strings.Repeat("z", 64): protocol.ErrInvalid,
		base + "&xs=urn:btpk:" + key:                     protocol.ErrInvalid,
		base + "&s=zz":                                   protocol.ErrInvalid,
		base + "&s=" + strings.Repeat("00", 65):          protocol.ErrTooLarge,
		base + "&xt=urn:btih:" + strings.Repeat("0", 40): protocol.ErrWrongStream,
		base + "&tr=ftp://x/":                            protocol.ErrInvalid,
		base + "&tr=udp://":                              protocol.ErrInvalid,
		base + "&tr=http://:80/":                         protocol.ErrInvalid, // no host
		base + "&x.pe=1.2.3.4":                           protocol.ErrInvalid,
		base + "&x.pe=1.2.3.4:0":                         protocol.ErrInvalid,
		base + "&x.pe=bad_host:1":                        protocol.ErrInvalid,
		base + "&x.origin=file:///etc/passwd":            protocol.ErrInvalid,
		base + "&x.origin=http://a/&x.origin=http://b/":  protocol.ErrInvalid,
		base + "&dn=%ff":                                 protocol.ErrInvalid,
		base + "&dn=%zz":                                 protocol.ErrInvalid,
		base + strings.Repeat("&tr=udp://t:1", 33):       protocol.ErrTooLarge,
		base + strings.Repeat("&x.pe=h:1", 65):           protocol.ErrTooLarge,
		base + "&dn=" + strings.Repeat("a", 8192):        protocol.ErrTooLarge,
	}
	for s, want := range cases {
		if _, err := protocol.ParseLink(s); !errors.Is(err, want) {
			t.Errorf("%.80s: %v, want %v", s, err, want)
		}
	}
}
