package gateway

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are one gateway's Prometheus collectors, in their own registry
// (several gateways may live in one process, as in tests).
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	upstream  *prometheus.HistogramVec
	alerts    *prometheus.CounterVec
	detectors *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	auditErrs prometheus.Counter
	handler   http.Handler
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mlsec", Subsystem: "gateway", Name: "requests_total",
		Help: "Requests by model, tier, decision and HTTP status code.",
	}, []string{"model", "tier", "decision", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "mlsec", Subsystem: "gateway", Name: "request_duration_seconds",
		Help:    "Time from request to response, upstream included.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"model"})
	m.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "mlsec", Subsystem: "gateway", Name: "upstream_duration_seconds",
		Help:    "Time spent waiting for the upstream model server.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"model"})
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mlsec", Subsystem: "gateway", Name: "alerts_total",
		Help: "Alerts raised (delivered=false when the alert queue was full).",
	}, []string{"model", "detector", "action", "delivered"})
	m.detectors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mlsec", Subsystem: "gateway", Name: "detector_triggers_total",
		Help: "Detector triggers, before alert de-duplication.",
	}, []string{"model", "detector"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mlsec", Subsystem: "gateway", Name: "config_reloads_total",
		Help: "Configuration reloads by result.",
	}, []string{"result"})
	m.auditErrs = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "mlsec", Subsystem: "gateway", Name: "audit_errors_total",
		Help: "Failed audit file writes or ledger appends.",
	})
	m.reg.MustRegister(m.requests, m.latency, m.upstream, m.alerts, m.detectors, m.reloads, m.auditErrs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}
