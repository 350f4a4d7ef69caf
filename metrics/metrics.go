// Package metrics owns what the portal tells Prometheus: request durations by
// route, platform calls by operation and outcome, the durable queues, the
// sync's lag and the database pools. It is served on its own listener (see
// cmd/portal), never on the public address.
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bankconnections/portal/store"
)

// Source is what a scrape reads from the store.
type Source interface {
	QueueStats(ctx context.Context) (store.QueueStats, error)
	Job(ctx context.Context, name string) (store.JobStatus, error)
	PoolStats() map[string]sql.DBStats
}

// Metrics holds the portal's registry and the instruments fed as work happens.
type Metrics struct {
	reg              *prometheus.Registry
	log              *slog.Logger
	requests         *prometheus.HistogramVec
	platformCalls    *prometheus.CounterVec
	platformDuration *prometheus.HistogramVec
}

// latency buckets from 1 ms to 10 s: pages answer in milliseconds, the
// platform's slow calls take seconds.
var buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New builds the registry: the Go runtime and process collectors, the
// instruments, and a collector that reads src at each scrape (syncJob is the
// job whose last success gives the sync's lag).
func New(log *slog.Logger, src Source, syncJob string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: log,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portal_http_request_duration_seconds", Help: "Time to answer a request, by route pattern, method and status code.", Buckets: buckets,
		}, []string{"route", "method", "code"}),
		platformCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portal_platform_requests_total", Help: "HTTP requests to the platform (each attempt), by operation and outcome (status class, or error when no answer came).",
		}, []string{"operation", "outcome"}),
		platformDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portal_platform_request_duration_seconds", Help: "Time the platform took to answer one request, by operation.", Buckets: buckets,
		}, []string{"operation"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.platformCalls, m.platformDuration,
		&storeCollector{src: src, syncJob: syncJob, log: log},
	)
	return m
}

// Handler serves the registry in Prometheus's text format. A family the store
// could not read is left out of that scrape (and logged); the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// ObserveRequest records one answered request. route is the route's pattern
// (e.g. /accounts/:guid), never the raw path, so the series stay few.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other" // a client chooses the method: no series per made-up one
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// Transport wraps base (nil: http.DefaultTransport) so every request to the
// platform, tokens included, is counted by operation and outcome.
func (m *Metrics) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &platformTransport{base: base, m: m}
}

type platformTransport struct {
	base http.RoundTripper
	m    *Metrics
}

func (t *platformTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := Operation(r.Method, r.URL.Path)
	start := time.Now()
	res, err := t.base.RoundTrip(r)
	outcome := "error"
	if err == nil {
		outcome = strconv.Itoa(res.StatusCode/100) + "xx"
	}
	t.m.platformCalls.WithLabelValues(op, outcome).Inc()
	t.m.platformDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	return res, err
}

// Operation names a platform request by its method and path pattern: a
// platform guid (32 hex characters) becomes :guid and any other segment that
// is not a plain lower-case word becomes :id, so ids never make new series.
func Operation(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		switch {
		case len(s) == 32 && isHex(s):
			segs[i] = ":guid"
		case !isWord(s):
			segs[i] = ":id"
		}
	}
	return method + " /" + strings.Join(segs, "/")
}

func isHex(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

func isWord(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
