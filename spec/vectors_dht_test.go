package spec_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

type dhtItemCase struct {
	Name           string `json:"name"`
	PublicKey      string `json:"public_key"`
	Salt           string `json:"salt"`
	Target         string `json:"target"`
	Descriptor     string `json:"descriptor"`
	DescriptorSeq  string `json:"descriptor_seq"`
	DescriptorHash string `json:"descriptor_sha256"`
	Seq            string `json:"seq"`
	V              string `json:"v"`
	SigningBytes   string `json:"signing_bytes"`
	Sig            string `json:"sig"`
}

func dhtItemVectors() vectorFile {
	out := vectorFile{Description: "The stream's BEP 44 mutable item (spec section 13.3). target = SHA-1(public_key || salt) " +
		"= the info-hash; v is the bencoded dictionary {dh: SHA-256(descriptor), ds: descriptor seq, ih: info-hash}; " +
		"seq = ds; sig is Ed25519 over signing_bytes (BEP 44: bencoded salt if not empty, seq and v)."}
	priv := prototest.PublisherKey()
	for _, c := range []struct{ name, salt string }{{"with salt", string(prototest.Salt)}, {"without salt", ""}} {
		s := protocol.StreamOf(priv, []byte(c.salt))
		d := prototest.Descriptor()
		d.Stream = s
		must(d.Sign(priv))
		raw := d.Append(nil)
		it := protocol.DHTItemFor(s, d.Seq, raw)
		seq, v, sig, err := protocol.SignDHTItem(priv, s.Salt, it)
		must(err)
		ih := s.InfoHash()
		out.Cases = append(out.Cases, dhtItemCase{
			Name: c.name, PublicKey: s.Key.String(), Salt: hex.EncodeToString(s.Salt), Target: ih.String(),
			Descriptor: hex.EncodeToString(raw), DescriptorSeq: u64(d.Seq), DescriptorHash: hex.EncodeToString(it.DescriptorHash[:]),
			Seq: u64(uint64(seq)), V: hex.EncodeToString(v),
			SigningBytes: hex.EncodeToString(protocol.DHTSigningBytes(s.Salt, seq, v)), Sig: hex.EncodeToString(sig[:]),
		})
	}
	return out
}

func TestDHTItemVectors(t *testing.T) {
	for _, c := range load[dhtItemCase](t, "dhtitem.json") {
		pub, salt := unhex(t, c.PublicKey), unhex(t, c.Salt)
		desc, v, sig := unhex(t, c.Descriptor), unhex(t, c.V), unhex(t, c.Sig)
		// Independently of the protocol package: the signature over the documented bytes,
		// and the value's bencoding.
		if !ed25519.Verify(pub, unhex(t, c.SigningBytes), sig) {
			t.Fatalf("%s: signature does not verify over signing_bytes", c.Name)
		}
		h := sha256.Sum256(desc)
		if hex.EncodeToString(h[:]) != c.DescriptorHash {
			t.Fatalf("%s: descriptor hash", c.Name)
		}
		target := unhex(t, c.Target)
		want := "d2:dh32:" + string(h[:]) + "2:dsi" + c.DescriptorSeq + "e2:ih20:" + string(target) + "e"
		if string(v) != want || c.Seq != c.DescriptorSeq {
			t.Fatalf("%s: v or seq is not the documented layout", c.Name)
		}
		var s protocol.Stream
		copy(s.Key[:], pub)
		s.Salt = salt
		seq, _ := strconv.ParseUint(c.Seq, 10, 64)
		if it, err := protocol.VerifyDHTItem(s, int64(seq), v, [64]byte(sig)); err != nil || it.InfoHash != s.InfoHash() {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
}
