package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/nordkapp42/nordkapp42/internal/metrics"
)

// recordAll calls every recording method once, so that every labelled family
// has a series and shows up when the registry is gathered.
func recordAll(m *metrics.Metrics) {
	m.ConnectionOpened("websocket")
	m.ConnectionClosed("sse")
	m.SubscriptionStarted("roomEvents")
	m.SubscriptionEnded("myRooms")
	m.Delivered("websocket", time.Now().Add(-time.Millisecond))
	m.EventsPublished(2)
	m.SlowConsumers(1)
	m.Operation("sendMessage", "mutation", "OK", time.Millisecond)
	m.StoreCall("AppendMessage", time.Millisecond)
	m.BrokerReconnected()
	m.ReminderScheduled()
	m.ReminderFired(time.Second)
	m.GRPCRequest("/nordkapp42.v1.Internal/Publish", "ok")
	m.SetReady(true)
}

// TestFamilies pins the names, types and label names of every family the
// node exposes: dashboards and alerts are written against exactly these.
func TestFamilies(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	recordAll(m)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}

	type family struct {
		Type   dto.MetricType
		Labels []string
	}
	want := map[string]family{
		"nordkapp42_connections_open":                   {dto.MetricType_GAUGE, []string{"transport"}},
		"nordkapp42_subscriptions_active":               {dto.MetricType_GAUGE, []string{"kind"}},
		"nordkapp42_events_published_total":             {dto.MetricType_COUNTER, nil},
		"nordkapp42_events_delivered_total":             {dto.MetricType_COUNTER, []string{"transport"}},
		"nordkapp42_delivery_latency_seconds":           {dto.MetricType_HISTOGRAM, []string{"transport"}},
		"nordkapp42_slow_consumer_disconnects_total":    {dto.MetricType_COUNTER, nil},
		"nordkapp42_graphql_operations_total":           {dto.MetricType_COUNTER, []string{"code", "operation", "type"}},
		"nordkapp42_graphql_operation_duration_seconds": {dto.MetricType_HISTOGRAM, []string{"operation", "type"}},
		"nordkapp42_store_query_duration_seconds":       {dto.MetricType_HISTOGRAM, []string{"op"}},
		"nordkapp42_broker_reconnects_total":            {dto.MetricType_COUNTER, nil},
		"nordkapp42_reminders_scheduled_total":          {dto.MetricType_COUNTER, nil},
		"nordkapp42_reminders_fired_total":              {dto.MetricType_COUNTER, nil},
		"nordkapp42_reminders_late_total":               {dto.MetricType_COUNTER, nil},
		"nordkapp42_reminder_lateness_seconds":          {dto.MetricType_HISTOGRAM, nil},
		"nordkapp42_grpc_requests_total":                {dto.MetricType_COUNTER, []string{"code", "procedure"}},
		"nordkapp42_ready":                              {dto.MetricType_GAUGE, nil},
		"nordkapp42_build_info":                         {dto.MetricType_GAUGE, []string{"goversion", "version"}},
	}
	got := map[string]family{}
	var goFamilies, processFamilies int
	for _, mf := range families {
		name := mf.GetName()
		switch {
		case strings.HasPrefix(name, "go_"):
			goFamilies++
			continue
		case strings.HasPrefix(name, "process_"):
			processFamilies++
			continue
		}
		f := family{Type: mf.GetType()}
		for i, metric := range mf.GetMetric() {
			var labels []string
			for _, l := range metric.GetLabel() {
				labels = append(labels, l.GetName())
			}
			slices.Sort(labels)
			if i == 0 {
				f.Labels = labels
			} else if !slices.Equal(labels, f.Labels) {
				t.Errorf("%s: series with labels %v and %v", name, f.Labels, labels)
			}
		}
		got[name] = f
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("families (-want +got):\n%s", diff)
	}
	if goFamilies == 0 || processFamilies == 0 {
		t.Errorf("%d go_* and %d process_* families; want the Go and process collectors registered", goFamilies, processFamilies)
	}
}

func TestBuildInfo(t *testing.T) {
	t.Parallel()
	m := metrics.New("v1.2.3")
	got := snapshot(t, m.Registry())
	key := `nordkapp42_build_info{goversion="` + runtime.Version() + `",version="v1.2.3"}`
	if got[key] != 1 {
		t.Errorf("%s = %v, want 1; series: %v", key, got[key], got)
	}
}

// TestRecording checks that each method changes its own series, by how much,
// and no other nordkapp42 series.
func TestRecording(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		record func(m *metrics.Metrics)
		want   map[string]float64 // changes of the nordkapp42 series
	}{
		{"connection opened", func(m *metrics.Metrics) { m.ConnectionOpened("websocket") },
			map[string]float64{`nordkapp42_connections_open{transport="websocket"}`: 1}},
		{"connection opened and closed", func(m *metrics.Metrics) {
			m.ConnectionOpened("sse")
			m.ConnectionOpened("sse")
			m.ConnectionClosed("sse")
		}, map[string]float64{`nordkapp42_connections_open{transport="sse"}`: 1}},
		{"subscription started", func(m *metrics.Metrics) {
			m.SubscriptionStarted("roomEvents")
			m.SubscriptionStarted("myRooms")
			m.SubscriptionEnded("myRooms")
		}, map[string]float64{`nordkapp42_subscriptions_active{kind="roomEvents"}`: 1}},
		{"subscription ended", func(m *metrics.Metrics) { m.SubscriptionEnded("notifications") },
			map[string]float64{`nordkapp42_subscriptions_active{kind="notifications"}`: -1}},
		{"live event delivered", func(m *metrics.Metrics) { m.Delivered("sse", time.Now().Add(-time.Second)) },
			map[string]float64{
				`nordkapp42_events_delivered_total{transport="sse"}`:         1,
				`nordkapp42_delivery_latency_seconds_count{transport="sse"}`: 1,
				`nordkapp42_delivery_latency_seconds_sum{transport="sse"}`:   1,
			}},
		{"replayed event delivered", func(m *metrics.Metrics) { m.Delivered("websocket", time.Time{}) },
			map[string]float64{`nordkapp42_events_delivered_total{transport="websocket"}`: 1}},
		{"events published", func(m *metrics.Metrics) { m.EventsPublished(3) },
			map[string]float64{`nordkapp42_events_published_total`: 3}},
		{"slow consumers", func(m *metrics.Metrics) { m.SlowConsumers(2) },
			map[string]float64{`nordkapp42_slow_consumer_disconnects_total`: 2}},
		{"operation", func(m *metrics.Metrics) { m.Operation("sendMessage", "mutation", "FORBIDDEN", 250*time.Millisecond) },
			map[string]float64{
				`nordkapp42_graphql_operations_total{code="FORBIDDEN",operation="sendMessage",type="mutation"}`: 1,
				`nordkapp42_graphql_operation_duration_seconds_count{operation="sendMessage",type="mutation"}`:  1,
				`nordkapp42_graphql_operation_duration_seconds_sum{operation="sendMessage",type="mutation"}`:    0.25,
			}},
		{"subscription operation", func(m *metrics.Metrics) { m.Operation("roomEvents", "subscription", "OK", 0) },
			map[string]float64{`nordkapp42_graphql_operations_total{code="OK",operation="roomEvents",type="subscription"}`: 1}},
		{"store call", func(m *metrics.Metrics) { m.StoreCall("AppendMessage", 2*time.Second) },
			map[string]float64{
				`nordkapp42_store_query_duration_seconds_count{op="AppendMessage"}`: 1,
				`nordkapp42_store_query_duration_seconds_sum{op="AppendMessage"}`:   2,
			}},
		{"broker reconnected", func(m *metrics.Metrics) { m.BrokerReconnected() },
			map[string]float64{`nordkapp42_broker_reconnects_total`: 1}},
		{"reminder scheduled", func(m *metrics.Metrics) { m.ReminderScheduled() },
			map[string]float64{`nordkapp42_reminders_scheduled_total`: 1}},
		{"reminder fired late", func(m *metrics.Metrics) { m.ReminderFired(3 * time.Second) },
			map[string]float64{
				`nordkapp42_reminders_fired_total`:           1,
				`nordkapp42_reminders_late_total`:            1,
				`nordkapp42_reminder_lateness_seconds_count`: 1,
				`nordkapp42_reminder_lateness_seconds_sum`:   3,
			}},
		{"reminder fired in time", func(m *metrics.Metrics) { m.ReminderFired(time.Second) },
			map[string]float64{
				`nordkapp42_reminders_fired_total`:           1,
				`nordkapp42_reminder_lateness_seconds_count`: 1,
				`nordkapp42_reminder_lateness_seconds_sum`:   1,
			}},
		{"reminder fired at exactly the limit", func(m *metrics.Metrics) { m.ReminderFired(metrics.LateAfter) },
			map[string]float64{
				`nordkapp42_reminders_fired_total`:           1,
				`nordkapp42_reminder_lateness_seconds_count`: 1,
				`nordkapp42_reminder_lateness_seconds_sum`:   metrics.LateAfter.Seconds(),
			}},
		{"reminder fired early", func(m *metrics.Metrics) { m.ReminderFired(-time.Second) },
			map[string]float64{
				`nordkapp42_reminders_fired_total`:           1,
				`nordkapp42_reminder_lateness_seconds_count`: 1, // observed as 0 s, so the sum does not move
			}},
		{"grpc request", func(m *metrics.Metrics) { m.GRPCRequest("/nordkapp42.v1.Internal/Publish", "unauthenticated") },
			map[string]float64{`nordkapp42_grpc_requests_total{code="unauthenticated",procedure="/nordkapp42.v1.Internal/Publish"}`: 1}},
		{"ready", func(m *metrics.Metrics) { m.SetReady(true) },
			map[string]float64{`nordkapp42_ready`: 1}},
		{"ready then not", func(m *metrics.Metrics) {
			m.SetReady(true)
			m.SetReady(false)
		}, map[string]float64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New("test")
			before := snapshot(t, m.Registry())
			tc.record(m)
			after := snapshot(t, m.Registry())
			got := map[string]float64{}
			for k, v := range after {
				if strings.Contains(k, "_bucket{") {
					continue // TestDeliveredLatencyBucket looks at buckets
				}
				if d := v - before[k]; d != 0 {
					got[k] = d
				}
			}
			// Latencies measured from time.Now drift a little past their nominal value.
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 0.1)); diff != "" {
				t.Errorf("changed series (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeliveredLatencyBucket checks that a latency lands in the bucket of its
// size, not just somewhere in the histogram.
func TestDeliveredLatencyBucket(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	m.Delivered("websocket", time.Now().Add(-3*time.Second))
	got := snapshot(t, m.Registry())
	for le, want := range map[string]float64{"2.5": 0, "5": 1} {
		key := `nordkapp42_delivery_latency_seconds_bucket{le="` + le + `",transport="websocket"}`
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	recordAll(m) // must not panic
	m.Delivered("sse", time.Time{})
	m.ReminderFired(3 * time.Second)
	m.SetReady(false)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Metrics' handler answered %d, want 404", rec.Code)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	m.EventsPublished(7)
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	for _, want := range []string{
		"# TYPE nordkapp42_build_info gauge",
		`nordkapp42_build_info{goversion="` + runtime.Version() + `",version="test"} 1`,
		"nordkapp42_events_published_total 7",
		"go_goroutines ",
		"process_",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	// The handler serves the node's registry, not the global default one.
	if n := len(snapshot(t, prometheus.DefaultGatherer)); n != 0 {
		t.Errorf("the default registry has %d nordkapp42 series; the metrics must live in a registry of their own", n)
	}
}

// snapshot returns the value of every nordkapp42 series, keyed by its name
// and labels in the text format's spelling; a histogram contributes its
// _count, _sum and _bucket series.
func snapshot(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		name := mf.GetName()
		if !strings.HasPrefix(name, "nordkapp42_") {
			continue
		}
		for _, metric := range mf.GetMetric() {
			var labels []string
			for _, l := range metric.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := func(suffix string, extra ...string) string {
				all := slices.Sorted(slices.Values(append(slices.Clone(labels), extra...)))
				if len(all) == 0 {
					return name + suffix
				}
				return name + suffix + "{" + strings.Join(all, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key("")] = metric.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key("")] = metric.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := metric.GetHistogram()
				out[key("_count")] = float64(h.GetSampleCount())
				out[key("_sum")] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[key("_bucket", `le="`+formatFloat(b.GetUpperBound())+`"`)] = float64(b.GetCumulativeCount())
				}
			default:
				t.Fatalf("%s: unexpected type %v", name, mf.GetType())
			}
		}
	}
	return out
}

// formatFloat spells a bucket bound as the text format does.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
