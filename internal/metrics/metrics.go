// Package metrics defines the Prometheus metrics of a nordkapp42 node and
// serves them. Every method is safe on a nil *Metrics, which records nothing,
// so that tests and tools can leave metrics out.
//
// Label values are bounded by the code and the schema, never by data: no room
// id, member id, operation name chosen by a client or message text ever
// becomes a label, so the number of series stays fixed however many users
// there are.
package metrics

import (
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "nordkapp42"

// LateAfter is how late a reminder may fire before it counts as late.
const LateAfter = 2 * time.Second

// latencyBuckets span 0.5 ms to 30 s: deliveries and queries on a healthy
// node fall in the low buckets, and a saturated node still gets a figure.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Metrics holds the node's collectors.
type Metrics struct {
	registry *prometheus.Registry

	connections      *prometheus.GaugeVec
	subscriptions    *prometheus.GaugeVec
	published        prometheus.Counter
	delivered        *prometheus.CounterVec
	deliveryLatency  *prometheus.HistogramVec
	slowConsumers    prometheus.Counter
	operations       *prometheus.CounterVec
	operationLatency *prometheus.HistogramVec
	storeLatency     *prometheus.HistogramVec
	brokerReconnects prometheus.Counter
	scheduled        prometheus.Counter
	fired            prometheus.Counter
	late             prometheus.Counter
	lateness         prometheus.Histogram
	grpcRequests     *prometheus.CounterVec
	ready            prometheus.Gauge
}

// New registers the node's metrics, the Go runtime's and the process's in a
// registry of their own.
func New(version string) *Metrics {
	r := prometheus.NewRegistry()
	f := factory{r}
	m := &Metrics{
		registry: r,
		connections: f.gaugeVec("connections_open",
			"Open streaming connections by transport (websocket, sse).", "transport"),
		subscriptions: f.gaugeVec("subscriptions_active",
			"Active GraphQL subscriptions by kind (the subscription's root field).", "kind"),
		published: f.counter("events_published_total",
			"Room events committed and handed to the fan-out."),
		delivered: f.counterVec("events_delivered_total",
			"Subscription payloads written to clients, by transport.", "transport"),
		deliveryLatency: f.histogramVec("delivery_latency_seconds",
			"Time from an event's commit to its payload being written to a client, for live events.", latencyBuckets, "transport"),
		slowConsumers: f.counter("slow_consumer_disconnects_total",
			"Subscriptions ended because their client read slower than events arrived."),
		operations: f.counterVec("graphql_operations_total",
			"GraphQL operations by root field, type and result code (OK or extensions.code).", "operation", "type", "code"),
		operationLatency: f.histogramVec("graphql_operation_duration_seconds",
			"Duration of GraphQL queries and mutations by root field.", latencyBuckets, "operation", "type"),
		storeLatency: f.histogramVec("store_query_duration_seconds",
			"Duration of store calls by method; Update is one whole write transaction.", latencyBuckets, "op"),
		brokerReconnects: f.counter("broker_reconnects_total",
			"Times the broker's subscription connection was re-established."),
		scheduled: f.counter("reminders_scheduled_total", "Reminders scheduled."),
		fired:     f.counter("reminders_fired_total", "Reminders fired."),
		late: f.counter("reminders_late_total",
			"Reminders fired more than 2 s after they were due."),
		lateness: f.histogram("reminder_lateness_seconds",
			"How long after its due time a reminder fired.", latencyBuckets),
		grpcRequests: f.counterVec("grpc_requests_total",
			"Internal API calls by procedure and status code.", "procedure", "code"),
		ready: f.gauge("ready", "1 when the node is ready to serve, 0 when not (starting, draining or a dependency down)."),
	}
	build := f.gaugeVec("build_info", "The running build: always 1.", "version", "goversion")
	build.WithLabelValues(version, runtime.Version()).Set(1)
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry is where the metrics are registered, for callers that add their own.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// ConnectionOpened counts a streaming connection in.
func (m *Metrics) ConnectionOpened(transport string) {
	if m != nil {
		m.connections.WithLabelValues(transport).Inc()
	}
}

// ConnectionClosed counts a streaming connection out.
func (m *Metrics) ConnectionClosed(transport string) {
	if m != nil {
		m.connections.WithLabelValues(transport).Dec()
	}
}

// SubscriptionStarted counts an active subscription in.
func (m *Metrics) SubscriptionStarted(kind string) {
	if m != nil {
		m.subscriptions.WithLabelValues(kind).Inc()
	}
}

// SubscriptionEnded counts an active subscription out.
func (m *Metrics) SubscriptionEnded(kind string) {
	if m != nil {
		m.subscriptions.WithLabelValues(kind).Dec()
	}
}

// Delivered records a payload written to a client. committed is when its
// event committed; zero for a payload that is not a live event (a replay
// after a cursor, say), which counts without a latency.
func (m *Metrics) Delivered(transport string, committed time.Time) {
	if m == nil {
		return
	}
	m.delivered.WithLabelValues(transport).Inc()
	if !committed.IsZero() {
		m.deliveryLatency.WithLabelValues(transport).Observe(time.Since(committed).Seconds())
	}
}

// EventsPublished counts events handed to the fan-out.
func (m *Metrics) EventsPublished(n int) {
	if m != nil {
		m.published.Add(float64(n))
	}
}

// SlowConsumers counts n subscriptions ended for reading too slowly.
func (m *Metrics) SlowConsumers(n int) {
	if m != nil {
		m.slowConsumers.Add(float64(n))
	}
}

// Operation records a GraphQL operation. operation is its root field, typ
// query, mutation or subscription, code "OK" or the error's extensions.code;
// a zero duration (subscriptions) records no latency.
func (m *Metrics) Operation(operation, typ, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.operations.WithLabelValues(operation, typ, code).Inc()
	if d > 0 {
		m.operationLatency.WithLabelValues(operation, typ).Observe(d.Seconds())
	}
}

// StoreCall records the duration of one store call.
func (m *Metrics) StoreCall(op string, d time.Duration) {
	if m != nil {
		m.storeLatency.WithLabelValues(op).Observe(d.Seconds())
	}
}

// BrokerReconnected counts a re-established broker subscription.
func (m *Metrics) BrokerReconnected() {
	if m != nil {
		m.brokerReconnects.Inc()
	}
}

// ReminderScheduled counts a scheduled reminder.
func (m *Metrics) ReminderScheduled() {
	if m != nil {
		m.scheduled.Inc()
	}
}

// ReminderFired records a fired reminder and how late it fired.
func (m *Metrics) ReminderFired(lateness time.Duration) {
	if m == nil {
		return
	}
	m.fired.Inc()
	m.lateness.Observe(max(lateness, 0).Seconds())
	if lateness > LateAfter {
		m.late.Inc()
	}
}

// GRPCRequest counts an internal API call.
func (m *Metrics) GRPCRequest(procedure, code string) {
	if m != nil {
		m.grpcRequests.WithLabelValues(procedure, code).Inc()
	}
}

// SetReady records whether the node is ready.
func (m *Metrics) SetReady(ready bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.Set(v)
}

// factory creates collectors in the nordkapp42 namespace and registers them.
type factory struct{ r prometheus.Registerer }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.r.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.r.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	f.r.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.r.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	f.r.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(h)
	return h
}
