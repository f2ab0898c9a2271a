package status

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/livetorrent/livetorrent/internal/localhttp"
)

// Limits for the status server. Status pages are tiny, so anything slow or large is a
// broken or hostile client.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 5 * time.Second

	metricsTimeout     = 10 * time.Second
	maxMetricsInFlight = 4
)

type handler struct {
	m       *Monitor
	metrics http.Handler
	page    *statusPage
}

// NewHandler serves m's latest snapshot: GET /metrics (Prometheus text format),
// GET /status.json and GET / (an HTML page that refreshes itself). Each handler has
// its own metrics registry, so several can coexist in one process.
func NewHandler(m *Monitor) http.Handler {
	return &handler{
		m: m,
		metrics: promhttp.HandlerFor(newRegistry(m), promhttp.HandlerOpts{
			// An unreadable /proc must not hide the stream's own metrics.
			ErrorHandling:       promhttp.ContinueOnError,
			MaxRequestsInFlight: maxMetricsInFlight,
			Timeout:             metricsTimeout,
		}),
		page: newStatusPage(),
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var serve func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case "/":
		serve = h.serveHTML
	case "/status.json":
		serve = h.serveJSON
	case "/metrics":
		serve = h.metrics.ServeHTTP
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	serve(w, r)
}

// statusDocument is what /status.json serves: the snapshot plus figures derived from
// it, so consumers need not reimplement them.
type statusDocument struct {
	Snapshot
	ShareFromPeers float64       `json:"share_from_peers"`
	PropagationP50 time.Duration `json:"propagation_p50_ns"`
	PropagationP95 time.Duration `json:"propagation_p95_ns"`
}

func (h *handler) serveJSON(w http.ResponseWriter, _ *http.Request) {
	s := h.m.Latest()
	body, err := json.Marshal(statusDocument{
		Snapshot:       s,
		ShareFromPeers: s.ShareFromPeers(),
		PropagationP50: s.Propagation.Quantile(0.5),
		PropagationP95: s.Propagation.Quantile(0.95),
	})
	if err != nil {
		// Only a NaN or infinite rate can get here.
		http.Error(w, "status cannot be encoded", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}

func (h *handler) serveHTML(w http.ResponseWriter, _ *http.Request) {
	body, err := h.page.render(h.m.Latest())
	if err != nil {
		http.Error(w, "status page cannot be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// Serve runs an HTTP server for h on ln until ctx ends, then shuts it down gracefully,
// giving open requests a few seconds. It returns nil after a clean shutdown and the
// server's error if it stopped for any other reason. ln is closed on return. On loopback it
// answers only requests naming an address or localhost (localhttp.Guard): the status page
// lists peers' addresses, which a web page must not read by DNS rebinding.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           localhttp.Guard(ln, h),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		// Requests still running after the grace period are cut off.
		_ = srv.Close()
	}
	if serveErr := <-served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}
