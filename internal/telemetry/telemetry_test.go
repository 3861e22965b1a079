package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/nordkapp42/nordkapp42/internal/telemetry"
)

// The exporter runs a batching goroutine and HTTP connections; shutdown must
// stop them all.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestEnabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"exporter OTLP", map[string]string{"OTEL_TRACES_EXPORTER": "OTLP"}, true},
		{"exporter none", map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false},
		{"exporter none wins over an endpoint", map[string]string{
			"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		}, false},
		{"sdk disabled wins over an endpoint", map[string]string{
			"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		}, false},
		{"sdk disabled wins over exporter otlp", map[string]string{
			"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp",
		}, false},
		{"sdk disabled false", map[string]string{
			"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		}, true},
		{"other variables only", map[string]string{"OTEL_SERVICE_NAME": "nordkapp42", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false},
	}
	for _, tc := range tests {
		getenv := func(key string) string { return tc.env[key] }
		if got := telemetry.Enabled(getenv); got != tc.want {
			t.Errorf("%s: Enabled = %t, want %t", tc.name, got, tc.want)
		}
	}
}

// clearEnv unsets the variables Setup reads, so that the environment the
// tests run in does not leak into them, and restores the global tracer
// provider and propagator when the test ends.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, key := range []string{
		"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
		"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	} {
		t.Setenv(key, "")
	}
	tp, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		// Setting the provider it already is only logs a complaint.
		if otel.GetTracerProvider() != tp {
			otel.SetTracerProvider(tp)
		}
		otel.SetTextMapPropagator(prop)
	})
}

func TestSetupDisabled(t *testing.T) {
	clearEnv(t)
	before := otel.GetTracerProvider()
	shutdown, err := telemetry.Setup(t.Context(), "test")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := shutdown(t.Context()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if after := otel.GetTracerProvider(); after != before {
		t.Errorf("Setup installed tracer provider %T with tracing off", after)
	}
	// Trace headers are passed on even without tracing of our own.
	fields := otel.GetTextMapPropagator().Fields()
	if !contains(fields, "traceparent") || !contains(fields, "baggage") {
		t.Errorf("propagator fields %v, want traceparent and baggage", fields)
	}
}

// collector is a fake OTLP/HTTP collector that keeps what it is sent.
type collector struct {
	mu       sync.Mutex
	requests []string // method and path
	spans    []string // span names
	services []string // service.name of each resource
	versions []string // service.version of each resource
	err      error    // of decoding a body
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, r.Method+" "+r.URL.Path)
	if err == nil {
		var req coltracepb.ExportTraceServiceRequest
		err = proto.Unmarshal(body, &req)
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				switch kv.GetKey() {
				case "service.name":
					c.services = append(c.services, kv.GetValue().GetStringValue())
				case "service.version":
					c.versions = append(c.versions, kv.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					c.spans = append(c.spans, s.GetName())
				}
			}
		}
	}
	if err != nil && c.err == nil {
		c.err = err
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func TestSetupExportsOverHTTP(t *testing.T) {
	clearEnv(t)
	col := &collector{}
	ts := httptest.NewServer(col)
	defer ts.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", ts.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")

	shutdown, err := telemetry.Setup(t.Context(), "v9.9.9")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
		t.Errorf("global tracer provider is %T, want the SDK's", otel.GetTracerProvider())
	}
	_, span := otel.Tracer("telemetry_test").Start(t.Context(), "test-span")
	span.End()
	if err := shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	if col.err != nil {
		t.Fatalf("collector could not decode an export: %v", col.err)
	}
	if !contains(col.requests, "POST /v1/traces") {
		t.Errorf("collector got requests %v, want POST /v1/traces", col.requests)
	}
	if !contains(col.spans, "test-span") {
		t.Errorf("collector got spans %v, want test-span", col.spans)
	}
	if !contains(col.services, "nordkapp42") || !contains(col.versions, "v9.9.9") {
		t.Errorf("exported resources name services %v, versions %v; want nordkapp42 v9.9.9", col.services, col.versions)
	}
}

// TestSetupServiceNameFromEnv checks that OTEL_SERVICE_NAME wins over the
// built-in name, as the package documents.
func TestSetupServiceNameFromEnv(t *testing.T) {
	clearEnv(t)
	col := &collector{}
	ts := httptest.NewServer(col)
	defer ts.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", ts.URL)
	t.Setenv("OTEL_SERVICE_NAME", "nordkapp42-eu1")

	shutdown, err := telemetry.Setup(t.Context(), "test")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	_, span := otel.Tracer("telemetry_test").Start(t.Context(), "test-span")
	span.End()
	if err := shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.services) == 0 || col.services[0] != "nordkapp42-eu1" {
		t.Errorf("exported service names %v, want nordkapp42-eu1", col.services)
	}
}

func TestSetupRejectsUnsupportedProtocol(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"http/json", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}},
		{"traces protocol wins", map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "carrier-pigeon",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			before := otel.GetTracerProvider()
			shutdown, err := telemetry.Setup(context.Background(), "test")
			if err == nil || !strings.Contains(err.Error(), "unsupported OTLP protocol") {
				t.Errorf("Setup returned %v, want an unsupported protocol error", err)
			}
			if shutdown != nil {
				t.Error("Setup returned a shutdown function with its error")
			}
			if otel.GetTracerProvider() != before {
				t.Error("a failed Setup replaced the global tracer provider")
			}
		})
	}
}

// TestPropagatorHonoursTraceparent checks that after Setup an incoming
// traceparent header becomes the parent of the spans the node starts.
func TestPropagatorHonoursTraceparent(t *testing.T) {
	clearEnv(t)
	if _, err := telemetry.Setup(t.Context(), "test"); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	carrier := propagation.HeaderCarrier(http.Header{})
	carrier.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), carrier)
	_, span := otel.Tracer("telemetry_test").Start(ctx, "child")
	defer span.End()
	if got := span.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("span's trace id %s, want the incoming %s", got, traceID)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
