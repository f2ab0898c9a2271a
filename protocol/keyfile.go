package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
)

// MaxKeyFileLen bounds what ParseKeyFile reads: a PEM Ed25519 key is about 120 bytes.
const MaxKeyFileLen = 4096

const pemPrivateKey = "PRIVATE KEY"

// MarshalKeyFile encodes a publisher key as PEM PKCS#8 (RFC 8410), the format
// `openssl genpkey -algorithm ed25519` writes. Store it with mode 0600.
func MarshalKeyFile(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// oneAsymmetricKey is PKCS#8's OneAsymmetricKey (RFC 5958) without attributes: version 0
// (v1) has no public key, version 1 (v2) may carry one.
type oneAsymmetricKey struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	PublicKey  asn1.BitString `asn1:"optional,tag:1"`
}

var oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}

// ParseKeyFile decodes a PEM PKCS#8 Ed25519 private key (spec 2.4): the v1 form, or the v2
// form whose public key must match the seed.
func ParseKeyFile(b []byte) (ed25519.PrivateKey, error) {
	if len(b) > MaxKeyFileLen {
		return nil, fieldErr("key file", ErrTooLarge, "%d bytes, at most %d", len(b), MaxKeyFileLen)
	}
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fieldErr("key file", ErrInvalid, "no PEM block")
	}
	if block.Type != pemPrivateKey {
		return nil, fieldErr("key file", ErrInvalid, "PEM type %q, want %q", block.Type, pemPrivateKey)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fieldErr("key file", ErrInvalid, "more than one PEM block")
	}
	var k oneAsymmetricKey
	if tail, err := asn1.Unmarshal(block.Bytes, &k); err != nil || len(tail) > 0 {
		return nil, fieldErr("key file", ErrInvalid, "not a PKCS#8 private key (attributes are not supported)")
	}
	if !k.Algorithm.Algorithm.Equal(oidEd25519) {
		return nil, fieldErr("key file", ErrWrongKey, "not an Ed25519 key (algorithm %v)", k.Algorithm.Algorithm)
	}
	if len(k.Algorithm.Parameters.FullBytes) > 0 {
		return nil, fieldErr("key file", ErrInvalid, "Ed25519 algorithm with parameters")
	}
	var seed []byte
	if tail, err := asn1.Unmarshal(k.PrivateKey, &seed); err != nil || len(tail) > 0 || len(seed) != ed25519.SeedSize {
		return nil, fieldErr("key file", ErrInvalid, "private key is not a %d-byte octet string", ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	switch k.Version {
	case 0:
		if k.PublicKey.BitLength != 0 {
			return nil, fieldErr("key file", ErrInvalid, "a version 1 key carries no public key")
		}
	case 1:
		pub := priv.Public().(ed25519.PublicKey)
		if k.PublicKey.BitLength != 0 && (k.PublicKey.BitLength != 8*ed25519.PublicKeySize || !bytes.Equal(k.PublicKey.Bytes, pub)) {
			return nil, fieldErr("key file", ErrInvalid, "the public key does not match the private key")
		}
	default:
		return nil, fieldErr("key file", ErrInvalid, "PKCS#8 version %d", k.Version)
	}
	return priv, nil
}
