// Package observed wraps a Store so that every call is timed into a metric
// and traced as a span (when tracing is on), whichever adapter is below.
// A write transaction (Update) counts as one call: its statements run inside
// it and belong to its time.
package observed

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

var tracer = otel.Tracer("github.com/nordkapp42/nordkapp42/internal/store/observed")

// Recorder receives the duration of each store call by method name.
type Recorder interface {
	StoreCall(op string, d time.Duration)
}

// Store is an app.Store that observes the one it wraps.
type Store struct {
	next app.Store
	rec  Recorder
}

var _ app.Store = (*Store)(nil)

// New wraps next; rec receives the durations.
func New(next app.Store, rec Recorder) *Store {
	return &Store{next: next, rec: rec}
}

// begin starts observing a call of op; done ends it with the call's error.
// Expected outcomes (not found, conflicts, invalid input) do not mark the
// span as failed: only errors the caller did not ask for do.
func (s *Store) begin(ctx context.Context, op string) (context.Context, func(error)) {
	start := time.Now()
	ctx, span := tracer.Start(ctx, "store."+op, trace.WithSpanKind(trace.SpanKindClient))
	return ctx, func(err error) {
		s.rec.StoreCall(op, time.Since(start))
		if err != nil && (domain.Kind(err) == nil || errors.Is(err, domain.ErrUnavailable)) {
			span.RecordError(err)
			span.SetStatus(codes.Error, "store call failed")
		}
		span.End()
	}
}

// Update observes app.Store.Update as one call.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx app.Tx) error) error {
	ctx, done := s.begin(ctx, "Update")
	err := s.next.Update(ctx, fn)
	done(err)
	return err
}
