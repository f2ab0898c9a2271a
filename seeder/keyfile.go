package seeder

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/livetorrent/livetorrent/protocol"
)

// LoadOrCreateKey returns the publisher key stored at path, creating a new key there
// (mode 0600) on first use; created reports which happened. An existing key file that
// group or others may read is refused: whoever reads it can publish as the stream.
func LoadOrCreateKey(path string) (priv ed25519.PrivateKey, created bool, err error) {
	priv, err = LoadKey(path)
	if err == nil {
		return priv, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	priv, err = Keygen(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our two looks: use theirs.
		priv, err = LoadKey(path)
		return priv, false, err
	}
	return priv, err == nil, err
}

// LoadKey reads a publisher key file (PEM PKCS#8 Ed25519, as `openssl genpkey -algorithm
// ed25519` writes), refusing one that group or others may read.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits; its ACLs are the operator's business.
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("key file %s has mode %#o: group or others can read it; run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, protocol.MaxKeyFileLen+1))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	priv, err := protocol.ParseKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return priv, nil
}

// Keygen creates a new publisher key file at path with mode 0600 (creating its folder
// with mode 0700 if needed) and returns the key. It never overwrites an existing file:
// losing a key means losing the stream's identity. The error wraps fs.ErrExist then.
func Keygen(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	pemBytes, err := protocol.MarshalKeyFile(priv)
	if err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("keygen: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	_, werr := f.Write(pemBytes)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path) // a half-written key is worse than none
		return nil, fmt.Errorf("keygen: writing %s: %w", path, err)
	}
	return priv, nil
}
