package observed_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

// spans receives every span the package's tests end. The recording provider
// is installed once for the whole binary, not per test: the package's tracer
// is taken from the global provider at init, and OpenTelemetry binds such a
// tracer to the first provider ever installed, so a second one (a rerun with
// -count=2, say) would never see its spans. Tests tell their spans apart by
// trace id, so they may run in parallel.
var spans = tracetest.NewSpanRecorder()

// TestMain installs the recording tracer provider, restores the previous one
// afterwards, and checks that the SQLite store's database/sql goroutines have
// all stopped once the tests have cleaned up.
func TestMain(m *testing.M) {
	prev := otel.GetTracerProvider()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	code := m.Run()
	otel.SetTracerProvider(prev)
	if err := tp.Shutdown(context.Background()); err != nil && code == 0 {
		fmt.Fprintf(os.Stderr, "tracer provider shutdown: %v\n", err)
		code = 1
	}
	if err := goleak.Find(); err != nil && code == 0 {
		fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
		code = 1
	}
	os.Exit(code)
}
