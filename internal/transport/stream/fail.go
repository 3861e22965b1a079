package stream

import (
	"context"
	"sync"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// fateKey is the context key of the per-operation terminal error holder.
type fateKey struct{}

// fate holds the terminal error of one operation. The resolver sets it from its
// own goroutine and the transport reads it once the response stream has ended,
// hence the mutex.
type fate struct {
	mu  sync.Mutex
	err *gqlerror.Error
}

// withFate returns ctx carrying a fresh holder, and the holder.
func withFate(ctx context.Context) (context.Context, *fate) {
	f := &fate{}
	return context.WithValue(ctx, fateKey{}, f), f
}

// set records err unless an error was recorded before: the first cause of an
// ending is the one worth reporting.
func (f *fate) set(err *gqlerror.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

// get returns the recorded error, or nil when the stream ended normally.
func (f *fate) get() *gqlerror.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Fail ends the stream of the operation that owns ctx with err instead of a
// normal completion. A subscription resolver calls it with the context it was
// given, then closes its channel: the WebSocket transport then sends an error
// message for the operation (and no complete), the SSE transport a next event
// carrying {"errors":[err]} followed by complete. Typical errors are
// SLOW_CONSUMER (the subscriber fell behind its bounded queue) and
// UNAUTHENTICATED; err is sent as given, without the error presenter, so it
// should carry its extensions.code.
//
// Only the first call for an operation counts. Fail does nothing when ctx does
// not come from one of this package's transports, or when err is nil.
func Fail(ctx context.Context, err *gqlerror.Error) {
	if err == nil {
		return
	}
	if f, ok := ctx.Value(fateKey{}).(*fate); ok {
		f.set(err)
	}
}
