package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeCollector reads the queues, the sync's last success and the pools'
// figures at scrape time: the database is the truth whichever process did
// the work, so nothing is threaded through the domain code.
type storeCollector struct {
	src     Source
	syncJob string
	log     *slog.Logger
}

var (
	completionsQueued = prometheus.NewDesc("portal_completions_queued",
		"Link completions waiting for the platform (queued, including those waiting for a retry).", nil, nil)
	completionsRetried = prometheus.NewDesc("portal_completions_retried_total",
		"Link completions that took more than one attempt.", nil, nil)
	completionsFailed = prometheus.NewDesc("portal_completions_failed_total",
		"Link completions given up on (e.g. the public token expired; the customer is asked to link again).", nil, nil)
	outboxDepth = prometheus.NewDesc("portal_outbox_depth",
		"Emails in the outbox not sent yet.", nil, nil)
	outboxFailed = prometheus.NewDesc("portal_outbox_failed_total",
		"Emails given up on.", nil, nil)
	syncLag = prometheus.NewDesc("portal_sync_lag_seconds",
		"Seconds since the last successful sync from the platform; absent before the first one.", nil, nil)
	syncLastSuccess = prometheus.NewDesc("portal_sync_last_success_timestamp_seconds",
		"Unix time of the last successful sync from the platform; 0 before the first one.", nil, nil)

	poolOpen     = prometheus.NewDesc("portal_db_pool_open_connections", "Open database connections, by pool.", []string{"pool"}, nil)
	poolInUse    = prometheus.NewDesc("portal_db_pool_in_use_connections", "Database connections in use, by pool.", []string{"pool"}, nil)
	poolIdle     = prometheus.NewDesc("portal_db_pool_idle_connections", "Idle database connections, by pool.", []string{"pool"}, nil)
	poolMaxOpen  = prometheus.NewDesc("portal_db_pool_max_open_connections", "Most database connections the pool opens.", []string{"pool"}, nil)
	poolWaits    = prometheus.NewDesc("portal_db_pool_waits_total", "Times a query waited for a free connection, by pool.", []string{"pool"}, nil)
	poolWaitTime = prometheus.NewDesc("portal_db_pool_wait_seconds_total", "Time spent waiting for a free connection, by pool.", []string{"pool"}, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{completionsQueued, completionsRetried, completionsFailed, outboxDepth, outboxFailed,
		syncLag, syncLastSuccess, poolOpen, poolInUse, poolIdle, poolMaxOpen, poolWaits, poolWaitTime} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if q, err := c.src.QueueStats(ctx); err != nil {
		c.log.Warn("metrics: read the queues", "err", err)
		for _, d := range []*prometheus.Desc{completionsQueued, completionsRetried, completionsFailed, outboxDepth, outboxFailed} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
	} else {
		gauge(completionsQueued, float64(q.Completions["queued"]))
		counter(completionsRetried, float64(q.CompletionsRetried))
		counter(completionsFailed, float64(q.Completions["failed"]))
		gauge(outboxDepth, float64(q.Outbox["queued"]))
		counter(outboxFailed, float64(q.Outbox["failed"]))
	}
	if j, err := c.src.Job(ctx, c.syncJob); err != nil {
		c.log.Warn("metrics: read the sync's status", "err", err)
		ch <- prometheus.NewInvalidMetric(syncLag, err)
		ch <- prometheus.NewInvalidMetric(syncLastSuccess, err)
	} else if j.LastOKAt == nil {
		gauge(syncLastSuccess, 0)
	} else {
		gauge(syncLag, time.Since(*j.LastOKAt).Seconds())
		gauge(syncLastSuccess, float64(j.LastOKAt.UnixNano())/1e9)
	}
	for pool, s := range c.src.PoolStats() {
		gauge(poolOpen, float64(s.OpenConnections), pool)
		gauge(poolInUse, float64(s.InUse), pool)
		gauge(poolIdle, float64(s.Idle), pool)
		gauge(poolMaxOpen, float64(s.MaxOpenConnections), pool)
		counter(poolWaits, float64(s.WaitCount), pool)
		counter(poolWaitTime, s.WaitDuration.Seconds(), pool)
	}
}

var _ prometheus.Collector = (*storeCollector)(nil)
