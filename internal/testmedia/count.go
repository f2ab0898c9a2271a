package testmedia

import (
	"net/http"
	"sync/atomic"
)

type counter struct{ n atomic.Int64 }

func (c *counter) load() int64 { return c.n.Load() }

type countingWriter struct {
	http.ResponseWriter
	c *counter
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.c.n.Add(int64(n))
	return n, err
}
