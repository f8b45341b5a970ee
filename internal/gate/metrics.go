package gate

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"modelgate/internal/store"
)

// Metrics are the gate's Prometheus metrics. They live in a registry the
// caller owns (no global registry), so tests and several gates in one
// process do not collide.
type Metrics struct {
	scans         *prometheus.CounterVec
	scanSeconds   prometheus.Histogram
	scanBytes     prometheus.Counter
	scansInFlight prometheus.Gauge
	lookups       *prometheus.CounterVec
	admissions    *prometheus.CounterVec
	jobs          *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg, if not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_scans_total",
			Help: "Files scanned, by detected format, decision and what asked for the scan."}, []string{"format", "decision", "source"}),
		scanSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "modelgate_scan_duration_seconds",
			Help: "Time to scan one file.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		scanBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "modelgate_scanned_bytes_total",
			Help: "Bytes of files scanned."}),
		scansInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "modelgate_scans_in_flight",
			Help: "Scans under way."}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_verdict_lookups_total",
			Help: "Verdict lookups by result: current, stale, unknown, or cached (an upload of content already judged)."}, []string{"result"}),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_admissions_total",
			Help: "Repository admissions by decision."}, []string{"decision"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_jobs_total",
			Help: "Jobs run by this process, by kind and outcome (done, retry, failed)."}, []string{"kind", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.scans, m.scanSeconds, m.scanBytes, m.scansInFlight, m.lookups, m.admissions, m.jobs)
	}
	return m
}

func (m *Metrics) observeScan(format, decision, source string, size int64, took time.Duration) {
	m.scans.WithLabelValues(format, decision, source).Inc()
	m.scanSeconds.Observe(took.Seconds())
	m.scanBytes.Add(float64(size))
}

// QueueCollector reports the queue's jobs by state at each scrape.
type QueueCollector struct {
	q    store.Queue
	desc *prometheus.Desc
}

// NewQueueCollector returns a collector for q; register it next to the
// gate's metrics.
func NewQueueCollector(q store.Queue) *QueueCollector {
	return &QueueCollector{q: q, desc: prometheus.NewDesc("modelgate_queue_jobs", "Jobs in the queue by state.", []string{"state"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.q.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for s, n := range st {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(s))
	}
}
