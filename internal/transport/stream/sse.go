package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Defaults for the zero values of SSE's fields.
const (
	defaultSSEPingInterval = 15 * time.Second

	// sseBodyLimit bounds the request body.
	sseBodyLimit = 1 << 20
)

// SSE frames.
var (
	sseKeepAlive = []byte(":\n\n")
	// The empty data line makes browsers' EventSource dispatch the event: it
	// drops events whose data buffer is empty.
	sseComplete = []byte("event: complete\ndata:\n\n")
)

// SSE is a gqlgen transport serving one GraphQL operation per request as
// Server-Sent Events, the "distinct connections" mode of graphql-sse
// (https://github.com/enisdenjo/graphql-sse/blob/master/PROTOCOL.md): a next
// event per result, then a complete event. Validation errors are reported in
// a next event too, so that EventSource clients can read them.
//
// Each request has one writer (the handler goroutine) and one goroutine
// pulling the operation's responses through a one-slot channel, so a client
// that reads slowly holds back its subscription, whose bounded queue upstream
// then ends it (see Fail). Both goroutines have stopped when Do returns.
//
// The zero value serves with the defaults below. Use a *SSE and do not copy it
// after first use.
type SSE struct {
	// OnOpen is called with the request's context when a subscription starts
	// streaming; queries and mutations do not call it. Nil does nothing.
	OnOpen func(ctx context.Context)

	// OnClose is called once for every OnOpen, after the subscription has
	// stopped. Its context keeps the request's values but is never cancelled.
	// Nil does nothing.
	OnClose func(ctx context.Context)

	// Expiry returns when the caller's credential expires (zero for never).
	// The stream then ends with a next event carrying an UNAUTHENTICATED
	// "token expired" error, then complete. Nil means never.
	Expiry func(ctx context.Context) time.Time

	// PingInterval is the period of the keep-alive comment (default 15s).
	PingInterval time.Duration

	// WriteTimeout bounds the write of one event (default 10s) where the
	// server supports write deadlines; a client that does not read for that
	// long is disconnected.
	WriteTimeout time.Duration

	// Observer hears of subscription streams and deliveries. Nil observes
	// nothing.
	Observer Observer

	// Pusher, when set, is offered every subscription first (see the
	// WebSocket's); the rest are pulled from the executor.
	Pusher Pusher

	life lifecycle
}

var _ graphql.Transport = (*SSE)(nil)

// Supports reports whether r asks for an event stream: a POST with a JSON body,
// or a GET with the request in the query string.
func (t *SSE) Supports(r *http.Request) bool {
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return false
	}
	switch r.Method {
	case http.MethodPost:
		mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		return err == nil && mediaType == "application/json"
	case http.MethodGet:
		return r.URL.Query().Has("query")
	default:
		return false
	}
}

// Do streams the operation of r.
func (t *SSE) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	params, err := sseParams(w, r)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	stop, ok := t.life.join()
	if !ok {
		writeJSONError(w, http.StatusServiceUnavailable, reasonServiceRestart)
		return
	}
	defer t.life.leave()

	s := &sseStream{
		w:            w,
		rc:           http.NewResponseController(w),
		writeTimeout: positive(t.WriteTimeout, defaultWriteTimeout),
	}
	defer s.clearDeadline()
	t.serve(s, r, exec, params, stop.Done())
}

// Shutdown ends every stream with a complete event, answers new requests with
// 503, and waits until the handlers have returned or ctx is done.
func (t *SSE) Shutdown(ctx context.Context) error {
	return t.life.shutdown(ctx)
}

// serve runs one operation and writes its events.
func (t *SSE) serve(s *sseStream, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	rc, errs := exec.CreateOperationContext(ctx, params)

	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would buffer the stream otherwise
	s.w.WriteHeader(http.StatusOK)
	if !s.flush() {
		return
	}

	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		_ = s.errors(resp.Errors) && s.write(sseComplete)
		return
	}

	obs := observerOr(t.Observer)
	kind := subscriptionKind(rc)
	if kind != "" {
		obs.ConnectionOpened(TransportSSE)
		obs.SubscriptionStarted(kind)
		defer obs.ConnectionClosed(TransportSSE)
		defer obs.SubscriptionEnded(kind)
	}
	if rc.Operation.Operation == ast.Subscription {
		if t.OnOpen != nil {
			t.OnOpen(ctx)
		}
		if t.OnClose != nil {
			defer t.OnClose(context.WithoutCancel(ctx))
		}
	}

	var expired <-chan time.Time
	if t.Expiry != nil {
		if exp := t.Expiry(ctx); !exp.IsZero() {
			expiry := time.NewTimer(time.Until(exp))
			defer expiry.Stop()
			expired = expiry.C
		}
	}

	opCtx, f := withFate(graphql.WithOperationContext(ctx, rc))
	results := make(chan result, 1)
	pulled := make(chan struct{})
	pushed := kind != "" && t.Pusher != nil &&
		t.Pusher.Push(ctx, rc, &sseSink{ctx: opCtx, f: f, results: results, done: pulled})
	if !pushed {
		go pullSSE(opCtx, exec, rc, f, results, pulled)
	}
	// Runs before OnClose (deferred earlier): the operation has stopped when
	// the presence hook hears of it.
	defer func() {
		cancel()
		<-pulled
	}()

	ping := time.NewTicker(positive(t.PingInterval, defaultSSEPingInterval))
	defer ping.Stop()
	for {
		select {
		case resp, ok := <-results:
			if !ok {
				if err := f.get(); err != nil && !s.errors(gqlerror.List{err}) {
					return
				}
				s.write(sseComplete)
				return
			}
			sent := false
			if resp.raw != nil {
				sent = s.event(resp.raw)
			} else {
				sent = s.next(resp.Response)
			}
			if !sent {
				return
			}
			if kind != "" {
				obs.Delivered(TransportSSE, resp.committed)
			}
		case <-ping.C:
			if !s.write(sseKeepAlive) {
				return
			}
		case <-expired:
			cancel()
			_ = s.errors(gqlerror.List{{
				Message:    reasonTokenExpired,
				Extensions: map[string]any{"code": "UNAUTHENTICATED"},
			}}) && s.write(sseComplete)
			return
		case <-stop:
			cancel()
			s.write(sseComplete)
			return
		case <-r.Context().Done():
			// The client went away.
			return
		}
	}
}

// result is one response of an operation, as a response or encoded (raw,
// from a Pusher), and when its event committed.
type result struct {
	*graphql.Response
	raw       []byte
	committed time.Time
}

// sseSink is the Sink of one pushed SSE subscription: it hands results to
// the request's goroutine, which writes them.
type sseSink struct {
	ctx     context.Context
	f       *fate
	results chan<- result
	done    chan<- struct{}
	once    sync.Once
}

func (s *sseSink) Result(resp []byte, committed time.Time, abort <-chan struct{}) bool {
	select {
	case <-s.ctx.Done():
		return false
	default:
	}
	select {
	case s.results <- result{raw: resp, committed: committed}:
		return true
	case <-s.ctx.Done():
	case <-abort:
	}
	return false
}

func (s *sseSink) End(err *gqlerror.Error) {
	s.once.Do(func() {
		if err != nil {
			s.f.set(err)
		}
		close(s.results)
		close(s.done)
	})
}

// pullSSE pulls the operation's responses into results until the stream ends
// or ctx is cancelled, then closes results and pulled.
func pullSSE(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext, f *fate, results chan<- result, pulled chan<- struct{}) {
	defer close(pulled)
	defer close(results)
	defer func() {
		if r := recover(); r != nil {
			f.set(asGQLError(rc.Recover(ctx, r)))
		}
	}()

	responses, ctx := exec.DispatchOperation(ctx, rc)
	for {
		resp := responses(ctx)
		if resp == nil {
			return
		}
		// gqlgen's generated subscription code reuses one buffer for every
		// result, and the next pull overwrites it; the writer encodes this
		// response later, on another goroutine, so it gets its own copy.
		resp.Data = bytes.Clone(resp.Data)
		select {
		case results <- result{Response: resp}:
		case <-ctx.Done():
			return
		}
	}
}

// sseParams reads the GraphQL request from the body (POST) or the query
// string (GET).
func sseParams(w http.ResponseWriter, r *http.Request) (*graphql.RawParams, error) {
	var params graphql.RawParams
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		params.Query = q.Get("query")
		params.OperationName = q.Get("operationName")
		for name, dst := range map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
			if raw := q.Get(name); raw != "" {
				if err := decodeNumbers(strings.NewReader(raw), dst); err != nil {
					return nil, fmt.Errorf("%s is not a JSON object: %w", name, err)
				}
			}
		}
		return &params, nil
	}

	body := http.MaxBytesReader(w, r.Body, sseBodyLimit)
	if err := decodeNumbers(body, &params); err != nil {
		return nil, fmt.Errorf("json request body could not be decoded: %w", err)
	}
	return &params, nil
}

// decodeNumbers decodes JSON keeping numbers as json.Number, like gqlgen's
// own transports.
func decodeNumbers(r io.Reader, dst any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	return nil
}

// writeJSONError answers before streaming has begun.
func writeJSONError(w http.ResponseWriter, status int, message string) {
	b, _ := json.Marshal(errorsOnly{Errors: gqlerror.List{{Message: message}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// errorsOnly is an execution result without data, the shape of errors raised
// before or instead of execution.
type errorsOnly struct {
	Errors gqlerror.List `json:"errors"`
}

// sseStream writes the events of one response.
type sseStream struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	writeTimeout time.Duration
}

// next writes a next event carrying resp.
func (s *sseStream) next(resp *graphql.Response) bool {
	frame := make([]byte, 0, len(resp.Data)+40)
	frame = append(frame, "event: next\ndata: "...)
	frame, err := appendResult(frame, resp)
	if err != nil {
		return s.errors(gqlerror.List{{Message: "internal error: response could not be encoded"}})
	}
	return s.write(append(frame, "\n\n"...))
}

// errors writes a next event carrying only errs.
func (s *sseStream) errors(errs gqlerror.List) bool {
	b, err := json.Marshal(errorsOnly{Errors: errs})
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error"}]}`)
	}
	return s.event(b)
}

// event writes a next event; data is compact JSON, so it fits one data line.
func (s *sseStream) event(data []byte) bool {
	frame := make([]byte, 0, len(data)+20)
	frame = append(frame, "event: next\ndata: "...)
	frame = append(frame, data...)
	frame = append(frame, "\n\n"...)
	return s.write(frame)
}

// write writes and flushes b within the write timeout. It returns false when
// the client cannot be written to any more.
func (s *sseStream) write(b []byte) bool {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return false
	}
	if _, err := s.w.Write(b); err != nil {
		return false
	}
	return s.flush()
}

// flush pushes what was written to the client.
func (s *sseStream) flush() bool {
	return s.rc.Flush() == nil
}

// clearDeadline removes the write deadline so that it cannot hit a later
// request on the same keep-alive connection.
func (s *sseStream) clearDeadline() {
	_ = s.rc.SetWriteDeadline(time.Time{})
}
