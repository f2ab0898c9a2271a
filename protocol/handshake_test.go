package protocol_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

func TestHandshakeGolden(t *testing.T) {
	var id [20]byte
	copy(id[:], protocol.PeerIDPrefix+"abcdefghijkl")
	h := protocol.NewHandshake(prototest.Stream().InfoHash(), id, true)
	b := h.Append([]byte{0xee})
	ih := prototest.Stream().InfoHash()
	want := append(unhex(t, "ee 13 426974546f7272656e742070726f746f636f6c 0000000000100001"), ih[:]...)
	want = append(want, id[:]...)
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x\nwant %x", b, want)
	}
	got, err := protocol.ParseHandshake(b[1:])
	if err != nil || got != h || !got.SupportsLive() || !got.Reserved.SupportsDHT() {
		t.Fatalf("parse: %+v %v", got, err)
	}
	for i := range protocol.HandshakeLen {
		if _, err := protocol.ParseHandshake(b[1 : 1+i]); !errors.Is(err, protocol.ErrTruncated) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	bad := bytes.Clone(b[1:])
	bad[5] = 'X'
	if _, err := protocol.ParseHandshake(bad); !errors.Is(err, protocol.ErrUnknownType) {
		t.Fatalf("bad protocol string: %v", err)
	}
	plain := protocol.Handshake{InfoHash: ih}
	if p, _ := protocol.ParseHandshake(plain.Append(nil)); p.SupportsLive() {
		t.Fatal("a handshake without the BEP 10 bit supports live")
	}
}

func sampleExtHandshake() protocol.ExtHandshake {
	return protocol.ExtHandshake{
		LiveID: 1, PexID: 2, Client: "LiveTorrent 0.1", Port: 6881, Reqq: 256,
		YourIP: netip.MustParseAddr("127.0.0.1"), Version: 1,
		Window: protocol.Window{First: 4096, End: 4160}, HasWindow: true,
		UploadHint: 1_000_000, DescriptorSeq: 3,
	}
}

func TestExtHandshakeGolden(t *testing.T) {
	h := sampleExtHandshake()
	b := h.Append([]byte("pre"))
	want := "pre" + "d" +
		"7:lt_dseqi3e" + "5:lt_upi1000000e" + "4:lt_vi1e" +
		"6:lt_win16:\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x10\x40" +
		"1:md7:lt_livei1e6:ut_pexi2ee" + "1:pi6881e" + "4:reqqi256e" + "1:v15:LiveTorrent 0.1" +
		"6:yourip4:\x7f\x00\x00\x01" + "e"
	if string(b) != want {
		t.Fatalf("got  %q\nwant %q", b, want)
	}
	if h.Len() != len(b)-3 {
		t.Fatalf("Len %d, encoding %d", h.Len(), len(b)-3)
	}
	got, err := protocol.ParseExtHandshake(b[3:])
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("parse: %+v %v", got, err)
	}
	for i := range len(b) - 3 {
		if _, err := protocol.ParseExtHandshake(b[3 : 3+i]); err == nil {
			t.Fatalf("prefix %d parsed", i)
		}
	}
}

func TestExtHandshakeRules(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"plain client", "d1:md11:ut_metadatai3eee", protocol.ErrUnknownType},
		{"no m", "d1:v3:abce", protocol.ErrUnknownType},
		{"id zero", "d1:md7:lt_livei0eee", protocol.ErrInvalid},
		{"id 256", "d1:md7:lt_livei256eee", protocol.ErrInvalid},
		{"id string", "d1:md7:lt_live1:xee", protocol.ErrInvalid},
		{"negative version", "d4:lt_vi-1e1:md7:lt_livei1eee", protocol.ErrInvalid},
		{"short window", "d6:lt_win3:abc1:md7:lt_livei1eee", protocol.ErrTruncated},
		{"port", "d1:md7:lt_livei1ee1:pi70000ee", protocol.ErrInvalid},
		{"reqq", "d1:md7:lt_livei1ee4:reqqi5000ee", protocol.ErrInvalid},
		{"yourip", "d1:md7:lt_livei1ee6:yourip3:abce", protocol.ErrInvalid},
		{"wrong type", "d1:md7:lt_livei1ee1:pi1:xe", protocol.ErrInvalid},
		{"not bencode", "hello", protocol.ErrInvalid},
		{"shared ids", "d1:md7:lt_livei1e6:ut_pexi1eee", protocol.ErrInvalid},
	}
	for _, c := range cases {
		if _, err := protocol.ParseExtHandshake([]byte(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	h, err := protocol.ParseExtHandshake([]byte("d1:md7:lt_livei7e11:ut_metadatai3ee5:extrai9e4:lt_vi4ee"))
	if err != nil || h.LiveID != 7 || h.Version != 4 || h.HasWindow {
		t.Fatalf("unknown keys and a newer version: %+v %v", h, err)
	}
	if v, err := protocol.NegotiateVersion(protocol.Version, h.Version); err != nil || v != 1 {
		t.Fatalf("negotiate: %d %v", v, err)
	}
	if h, _ := protocol.ParseExtHandshake([]byte("d1:md7:lt_livei1eee")); h.Version != 1 {
		t.Fatalf("missing lt_v means 1, got %d", h.Version)
	}
	big := make([]byte, protocol.MaxExtHandshakeLen+1)
	if _, err := protocol.ParseExtHandshake(big); !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	priv := prototest.PublisherKey()
	pemBytes, err := protocol.MarshalKeyFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatalf("not PEM PKCS#8: %s", pemBytes)
	}
	got, err := protocol.ParseKeyFile(pemBytes)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("round trip: %v", err)
	}
	for name, in := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a key"),
		"wrong pem": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"bad der":   []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"too large": bytes.Repeat([]byte("a"), protocol.MaxKeyFileLen+1),
	} {
		if _, err := protocol.ParseKeyFile(in); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	// Spec 2.4's other forms: a v2 key is accepted only with its own public key; other
	// versions, other algorithms and extra blocks are refused.
	seed := priv.Seed()
	pub := priv.Public().(ed25519.PublicKey)
	octets, _ := asn1.Marshal(seed)
	keyPEM := func(version int, oid asn1.ObjectIdentifier, pubKey []byte) []byte {
		type v2 struct {
			Version    int
			Algorithm  pkix.AlgorithmIdentifier
			PrivateKey []byte
			PublicKey  asn1.BitString `asn1:"optional,tag:1"`
		}
		der, err := asn1.Marshal(v2{version, pkix.AlgorithmIdentifier{Algorithm: oid}, octets,
			asn1.BitString{Bytes: pubKey, BitLength: 8 * len(pubKey)}})
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	ed25519OID, ed448OID := asn1.ObjectIdentifier{1, 3, 101, 112}, asn1.ObjectIdentifier{1, 3, 101, 113}
	if got, err := protocol.ParseKeyFile(keyPEM(1, ed25519OID, pub)); err != nil || !got.Equal(priv) {
		t.Errorf("v2 form with its public key: %v", err)
	}
	other := prototest.Key("someone else").Public().(ed25519.PublicKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"v2 with another public key": {keyPEM(1, ed25519OID, other), protocol.ErrInvalid},
		"v1 with a public key":       {keyPEM(0, ed25519OID, pub), protocol.ErrInvalid},
		"version 5":                  {keyPEM(4, ed25519OID, nil), protocol.ErrInvalid},
		"Ed448":                      {keyPEM(0, ed448OID, nil), protocol.ErrWrongKey},
		"ECDSA":                      {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), protocol.ErrWrongKey},
		"two blocks":                 {append(bytes.Clone(pemBytes), pemBytes...), protocol.ErrInvalid},
	} {
		if _, err := protocol.ParseKeyFile(c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// OpenSSL's view of the same key (seed SHA-256("livetorrent test vector publisher")):
	// its PKCS#8 encoding and the public key `openssl pkey -pubout` derives from it.
	const opensslPEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEICITi6/900mTw3KwoJB+NkdrNJesU3xfRxZxLPjjJr84\n-----END PRIVATE KEY-----\n"
	if string(pemBytes) != opensslPEM {
		t.Fatalf("encoding differs from OpenSSL's:\n%s", pemBytes)
	}
	k, err := protocol.ParseKeyFile([]byte(opensslPEM))
	if err != nil {
		t.Fatal(err)
	}
	if pub := protocol.StreamOf(k, nil).Key.String(); pub != "831acfa26c9bebe6415b7b5608064d32bc05d3bd898bc2a14dbb4d75fd38a1e2" {
		t.Fatalf("public key %s differs from OpenSSL's", pub)
	}
}
