package localhttp

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLocalHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8765": true, "127.0.0.1": true, "[::1]:9": true, "::1": true,
		"localhost": true, "LOCALHOST:80": true, "player.localhost": true, "localhost.": true,
		"192.0.2.1:80":     true, // an address: no name to rebind
		"attacker.example": false, "attacker.example:8765": false,
		"localhost.attacker.example": false, "": false,
	} {
		if got := LocalHost(host); got != want {
			t.Errorf("LocalHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestGuardOnlyOnLoopback(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	loop, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = "attacker.example"
	rec := httptest.NewRecorder()
	Guard(loop, ok).ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("rebinding Host on loopback: %d", rec.Code)
	}
	// Not on loopback: the handler itself (nothing is bound; a fake address will do).
	if h := Guard(fakeListener{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 80}}, ok); h == nil {
		t.Fatal("nil handler")
	} else {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("off loopback: %d", rec.Code)
		}
	}
}

type fakeListener struct{ addr net.Addr }

func (fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (fakeListener) Close() error              { return nil }
func (l fakeListener) Addr() net.Addr          { return l.addr }
