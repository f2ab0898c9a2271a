package protocol

import (
	"crypto/ed25519"
	"crypto/x509"
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

// ParseKeyFile decodes a PEM PKCS#8 Ed25519 private key.
func ParseKeyFile(b []byte) (ed25519.PrivateKey, error) {
	if len(b) > MaxKeyFileLen {
		return nil, fieldErr("key file", ErrTooLarge, "%d bytes, at most %d", len(b), MaxKeyFileLen)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fieldErr("key file", ErrInvalid, "no PEM block")
	}
	if block.Type != pemPrivateKey {
		return nil, fieldErr("key file", ErrInvalid, "PEM type %q, want %q", block.Type, pemPrivateKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fieldErr("key file", ErrInvalid, "%v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fieldErr("key file", ErrWrongKey, "not an Ed25519 key (%T)", k)
	}
	return priv, nil
}
