package testmedia

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEncodeAndServeVOD(t *testing.T) {
	dir := t.TempDir()
	pl := EncodeVOD(t, dir, Options{Duration: 3e9})
	b, err := os.ReadFile(pl)
	if err != nil || !strings.Contains(string(b), "#EXT-X-ENDLIST") {
		t.Fatalf("playlist: %v\n%s", err, b)
	}
	o := Serve(t, dir)
	resp, err := http.Get(o.URL + filepath.Base(pl))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != string(b) || o.BytesServed() != int64(len(b)) {
		t.Fatalf("served %d bytes, counted %d", len(body), o.BytesServed())
	}
}
