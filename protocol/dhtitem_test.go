package protocol_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

func sampleItem() protocol.DHTItem {
	d := prototest.Descriptor()
	return protocol.DHTItemFor(prototest.Stream(), d.Seq, d.Append(nil))
}

func TestDHTItemGolden(t *testing.T) {
	it := protocol.DHTItem{DescriptorSeq: 7}
	for i := range it.DescriptorHash {
		it.DescriptorHash[i] = byte(i)
	}
	for i := range it.InfoHash {
		it.InfoHash[i] = 0xa0 + byte(i)
	}
	prefix := []byte{0xff, 0xee}
	b := it.Append(prefix)
	want := "ffee" + hex.EncodeToString([]byte("d2:dh32:")) +
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
		hex.EncodeToString([]byte("2:dsi7e2:ih20:")) +
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3" + "65"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("append:\n got %s\nwant %s", got, want)
	}
	v := b[len(prefix):]
	if len(v) != it.Len() || len(v) != 75 {
		t.Fatalf("len %d, Len() %d, spec says 75", len(v), it.Len())
	}
	back, err := protocol.ParseDHTItem(v)
	if err != nil || back != it {
		t.Fatalf("parse back: %+v, %v", back, err)
	}
	for n := range len(v) {
		if _, err := protocol.ParseDHTItem(v[:n]); err == nil {
			t.Fatalf("prefix of %d bytes parsed", n)
		}
	}
}

func TestDHTItemSignVerify(t *testing.T) {
	s := prototest.Stream()
	it := sampleItem()
	seq, v, sig, err := protocol.SignDHTItem(prototest.PublisherKey(), s.Salt, it)
	if err != nil {
		t.Fatal(err)
	}
	got, err := protocol.VerifyDHTItem(s, seq, v, sig)
	if err != nil || got != it {
		t.Fatalf("verify: %+v, %v", got, err)
	}
	// Every single bit flip of the value or signature fails.
	for i := range len(v) * 8 {
		w := bytes.Clone(v)
		w[i/8] ^= 1 << (i % 8)
		if _, err := protocol.VerifyDHTItem(s, seq, w, sig); err == nil {
			t.Fatalf("value bit %d flipped still verifies", i)
		}
	}
	bad := sig
	bad[5] ^= 1
	if _, err := protocol.VerifyDHTItem(s, seq, v, bad); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("flipped signature: %v", err)
	}
	if _, err := protocol.VerifyDHTItem(s, seq+1, v, sig); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("other seq: %v", err)
	}
	other := protocol.StreamOf(prototest.PublisherKey(), []byte("other salt"))
	if _, err := protocol.VerifyDHTItem(other, seq, v, sig); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("other salt: %v", err)
	}
	// Signed by the right key, but for another swarm or another seq than the descriptor's.
	wrong := it
	wrong.InfoHash[0] ^= 1
	seq2, v2, sig2, _ := protocol.SignDHTItem(prototest.PublisherKey(), s.Salt, wrong)
	if _, err := protocol.VerifyDHTItem(s, seq2, v2, sig2); !errors.Is(err, protocol.ErrWrongStream) {
		t.Fatalf("other swarm: %v", err)
	}
	if _, _, _, err := protocol.SignDHTItem(prototest.PublisherKey(), s.Salt, protocol.DHTItem{}); err == nil {
		t.Fatal("seq 0 signed")
	}
}

func TestDHTItemSigningBytes(t *testing.T) {
	// The BEP 44 example: salt "foobar", seq 1, v "12:Hello World!".
	got := string(protocol.DHTSigningBytes([]byte("foobar"), 1, []byte("12:Hello World!")))
	if want := "4:salt6:foobar3:seqi1e1:v12:Hello World!"; got != want {
		t.Fatalf("%q != %q", got, want)
	}
	got = string(protocol.DHTSigningBytes(nil, 1, []byte("12:Hello World!")))
	if want := "3:seqi1e1:v12:Hello World!"; got != want {
		t.Fatalf("%q != %q", got, want)
	}
}

func TestDHTItemUnknownKeysAndLimits(t *testing.T) {
	it := sampleItem()
	v := it.Append(nil)
	// A later version may add keys; sorted order puts "zz" last.
	ext := append(bytes.Clone(v[:len(v)-1]), "2:zz3:abce"...)
	if got, err := protocol.ParseDHTItem(ext); err != nil || got != it {
		t.Fatalf("unknown key: %+v, %v", got, err)
	}
	if _, err := protocol.ParseDHTItem(bytes.Repeat([]byte{'x'}, 1001)); !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("1001 bytes: %v", err)
	}
	for _, v := range []string{"de", "le", "d2:dsi0ee", "d2:dh3:abc2:dsi1e2:ih20:aaaaaaaaaaaaaaaaaaaae"} {
		if _, err := protocol.ParseDHTItem([]byte(v)); err == nil {
			t.Fatalf("%q parsed", v)
		}
	}
}
