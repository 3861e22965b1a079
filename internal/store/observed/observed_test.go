package observed_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/store/observed"
	"github.com/nordkapp42/nordkapp42/internal/store/sqlite"
	"github.com/nordkapp42/nordkapp42/internal/store/storetest"
)

// recorder is an observed.Recorder that keeps every call.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	op string
	d  time.Duration
}

func (r *recorder) StoreCall(op string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call{op, d})
}

// take returns the calls recorded so far and forgets them.
func (r *recorder) take() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// openSQLite opens a SQLite store on a new file, closed when the test ends.
func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "nordkapp42.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestStoreContract runs the whole Store contract through the decorator: it
// passes every call, its arguments and its results through unchanged.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) app.Store {
		return observed.New(openSQLite(t), &recorder{})
	})
}

// traced starts a test span and returns its context, and a function that
// ends it and returns the spans ended under it, the test span excluded.
func traced(t *testing.T) (context.Context, func() []sdktrace.ReadOnlySpan) {
	t.Helper()
	ctx, root := otel.Tracer("observed_test").Start(t.Context(), t.Name())
	return ctx, func() []sdktrace.ReadOnlySpan {
		root.End()
		var out []sdktrace.ReadOnlySpan
		for _, s := range spans.Ended() {
			if s.SpanContext().TraceID() == root.SpanContext().TraceID() && s.SpanContext().SpanID() != root.SpanContext().SpanID() {
				out = append(out, s)
			}
		}
		return out
	}
}

// TestEveryMethodIsObserved calls every method of app.Store through the
// decorator and checks that each records its own name, with a duration, and
// ends one client span named after it under the caller's span.
func TestEveryMethodIsObserved(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := observed.New(openSQLite(t), rec)
	storeType := reflect.TypeFor[app.Store]()
	if storeType.NumMethod() == 0 {
		t.Fatal("app.Store has no methods")
	}
	for i := range storeType.NumMethod() {
		name := storeType.Method(i).Name
		t.Run(name, func(t *testing.T) {
			ctx, end := traced(t)
			method := reflect.ValueOf(s).MethodByName(name)
			args := zeroArgs(ctx, method.Type())
			// The arguments are zero values: most calls fail with not found or
			// invalid input, which is fine, since only their observation counts.
			method.Call(args)
			ended := end()

			got := rec.take()
			if len(got) != 1 || got[0].op != name || got[0].d <= 0 {
				t.Errorf("recorder saw %+v, want one call of %s with a positive duration", got, name)
			}
			if len(ended) != 1 {
				t.Fatalf("%d spans under the caller's, want 1", len(ended))
			}
			span := ended[0]
			if span.Name() != "store."+name || span.SpanKind() != trace.SpanKindClient {
				t.Errorf("span %q of kind %v, want store.%s of kind client", span.Name(), span.SpanKind(), name)
			}
			if span.Status().Code == codes.Error {
				t.Errorf("span status %v: an expected outcome of a zero-valued call marked the span failed", span.Status())
			}
		})
	}
}

// zeroArgs returns arguments for a method of type ft: ctx for the context,
// a function that returns zero values for a function (Update's fn), and zero
// values for the rest.
func zeroArgs(ctx context.Context, ft reflect.Type) []reflect.Value {
	ctxType := reflect.TypeFor[context.Context]()
	args := make([]reflect.Value, ft.NumIn())
	for i := range args {
		in := ft.In(i)
		switch {
		case in == ctxType:
			args[i] = reflect.ValueOf(ctx)
		case in.Kind() == reflect.Func:
			args[i] = reflect.MakeFunc(in, func([]reflect.Value) []reflect.Value {
				out := make([]reflect.Value, in.NumOut())
				for j := range out {
					out[j] = reflect.Zero(in.Out(j))
				}
				return out
			})
		default:
			args[i] = reflect.Zero(in)
		}
	}
	return args
}

// slowStore is an app.Store whose Member takes a while.
type slowStore struct {
	app.Store
	delay time.Duration
}

func (s slowStore) Member(ctx context.Context, id string) (domain.Member, error) {
	time.Sleep(s.delay)
	return domain.Member{ID: id}, nil
}

func TestDurationIsTheCallsTime(t *testing.T) {
	t.Parallel()
	const delay = 20 * time.Millisecond
	rec := &recorder{}
	got, err := observed.New(slowStore{delay: delay}, rec).Member(t.Context(), "ann")
	if err != nil || got.ID != "ann" {
		t.Fatalf("Member = %+v, %v; want ann's member", got, err)
	}
	calls := rec.take()
	if len(calls) != 1 || calls[0].op != "Member" || calls[0].d < delay {
		t.Errorf("recorder saw %+v, want one Member call of at least %v", calls, delay)
	}
}

// failingStore is an app.Store whose Member fails with err and notes the
// span it was called under.
type failingStore struct {
	app.Store
	err    error
	caller *trace.SpanContext
}

func (s failingStore) Member(ctx context.Context, id string) (domain.Member, error) {
	*s.caller = trace.SpanContextFromContext(ctx)
	return domain.Member{}, s.err
}

// TestSpanStatus checks that only failures the caller did not ask for mark
// the span failed: an internal error or an unavailable database, not a
// missing row or a conflict.
func TestSpanStatus(t *testing.T) {
	t.Parallel()
	internal := errors.New("disk on fire")
	tests := []struct {
		name   string
		err    error
		failed bool
	}{
		{"success", nil, false},
		{"not found", fmt.Errorf("member ann: %w", domain.ErrNotFound), false},
		{"conflict", domain.Errorf(domain.ErrConflict, "taken"), false},
		{"invalid", domain.Errorf(domain.ErrInvalid, "bad id"), false},
		{"unavailable", fmt.Errorf("query: %w", domain.ErrUnavailable), true},
		{"internal", fmt.Errorf("scan member: %w", internal), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var caller trace.SpanContext
			rec := &recorder{}
			s := observed.New(failingStore{err: tc.err, caller: &caller}, rec)
			ctx, end := traced(t)
			_, err := s.Member(ctx, "ann")
			ended := end()

			if err != tc.err { //nolint:errorlint // the very same error must come back
				t.Errorf("Member returned %v, want %v unchanged", err, tc.err)
			}
			if calls := rec.take(); len(calls) != 1 || calls[0].op != "Member" {
				t.Errorf("recorder saw %+v, want one Member call", calls)
			}
			if len(ended) != 1 {
				t.Fatalf("%d spans under the caller's, want 1", len(ended))
			}
			span := ended[0]
			if span.Name() != "store.Member" {
				t.Errorf("span %q, want store.Member", span.Name())
			}
			// The store below runs under the store span, so its own spans nest.
			if caller.SpanID() != span.SpanContext().SpanID() {
				t.Errorf("the wrapped store ran under span %v, want the store.Member span %v", caller.SpanID(), span.SpanContext().SpanID())
			}
			var events []string
			for _, e := range span.Events() {
				events = append(events, e.Name)
			}
			wantCode, wantEvents := codes.Unset, []string(nil)
			if tc.failed {
				wantCode, wantEvents = codes.Error, []string{"exception"}
			}
			if span.Status().Code != wantCode {
				t.Errorf("span status %v, want %v", span.Status().Code, wantCode)
			}
			if diff := cmp.Diff(wantEvents, events); diff != "" {
				t.Errorf("span events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUpdateIsOneCall checks that a write transaction is observed as one
// call and one span, whatever runs inside it.
func TestUpdateIsOneCall(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := observed.New(openSQLite(t), rec)
	ctx, end := traced(t)
	now := time.Now()
	var inside trace.SpanContext
	err := s.Update(ctx, func(ctx context.Context, tx app.Tx) error {
		inside = trace.SpanContextFromContext(ctx)
		if err := tx.InsertRoom(ctx, domain.Room{ID: "room-1", Kind: domain.KindPublicGroup, Name: "crew", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		_, err := tx.Room(ctx, "room-1")
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if _, err := s.Room(ctx, "room-1"); err != nil {
		t.Fatalf("Room after Update: %v", err)
	}
	ended := end()
	var ops []string
	for _, c := range rec.take() {
		ops = append(ops, c.op)
	}
	if diff := cmp.Diff([]string{"Update", "Room"}, ops); diff != "" {
		t.Errorf("recorded ops (-want +got):\n%s", diff)
	}
	var names []string
	for _, s := range ended {
		names = append(names, s.Name())
	}
	if diff := cmp.Diff([]string{"store.Update", "store.Room"}, names); diff != "" {
		t.Fatalf("spans (-want +got):\n%s", diff)
	}
	// The transaction runs under the store.Update span, so that spans of the
	// statements inside it nest.
	if inside.SpanID() != ended[0].SpanContext().SpanID() {
		t.Errorf("the transaction ran under span %v, want the store.Update span %v", inside.SpanID(), ended[0].SpanContext().SpanID())
	}
}
