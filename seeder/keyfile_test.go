package seeder

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
)

func TestLoadOrCreateKey(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
	path := filepath.Join(t.TempDir(), "keys", "publisher.pem")
	k1, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("first run: created=%v err=%v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600 (%v)", st.Mode().Perm(), err)
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Errorf("key folder mode %v, want 0700", dst.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("not a PEM PKCS#8 key file:\n%s", b)
	}
	if parsed, err := protocol.ParseKeyFile(b); err != nil || !parsed.Equal(k1) {
		t.Fatalf("the file does not hold the returned key: %v", err)
	}
	k2, created, err := LoadOrCreateKey(path)
	if err != nil || created || !k2.Equal(k1) {
		t.Fatalf("second run: created=%v err=%v same=%v", created, err, k2.Equal(k1))
	}

	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		os.Chmod(path, mode)
		if _, _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %v accepted: %v", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := LoadKey(path); err != nil {
		t.Errorf("read-only owner key refused: %v", err)
	}
}

func TestKeygenNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	k, err := Keygen(path)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if _, err := Keygen(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second keygen: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("keygen overwrote an existing key")
	}
	if got, err := LoadKey(path); err != nil || !got.Equal(k) {
		t.Fatalf("load: %v", err)
	}
}

func TestLoadKeyRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"garbage": []byte("not a key"),
		"huge":    bytes.Repeat([]byte("A"), protocol.MaxKeyFileLen+10),
		"rsa":     []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
	}
	for name, b := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		if _, _, err := LoadOrCreateKey(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadKey(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a folder as key file: %v", err)
	}
}
