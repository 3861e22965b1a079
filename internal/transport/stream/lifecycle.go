package stream

import (
	"context"
	"fmt"
	"sync"
)

// lifecycle counts the live streams of a transport so that Shutdown can tell
// them to end and wait until they have. Its zero value is ready to use.
type lifecycle struct {
	mu      sync.Mutex
	stop    context.Context // done by shutdown: every stream ends
	cancel  context.CancelFunc
	drained chan struct{} // closed once shut down and no stream is left
	live    int
	shut    bool
}

// lazyInit makes the channels; it runs under mu so that the zero value works.
func (l *lifecycle) lazyInit() {
	if l.stop == nil {
		l.stop, l.cancel = context.WithCancel(context.Background())
		l.drained = make(chan struct{})
	}
}

// join registers a new stream and returns the context that is done when the
// stream must end (a context rather than a channel, so that a stream can
// register a callback with context.AfterFunc instead of keeping a goroutine
// to watch it). It reports false once shutdown has begun: the caller must
// then refuse the stream and not call leave.
func (l *lifecycle) join() (context.Context, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut {
		return nil, false
	}
	l.lazyInit()
	l.live++
	return l.stop, true
}

// leave unregisters a stream that join accepted.
func (l *lifecycle) leave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live--
	if l.shut && l.live == 0 {
		close(l.drained)
	}
}

// shutdown tells every stream to end, refuses new ones, and waits until the
// live ones have ended or ctx is done.
func (l *lifecycle) shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.lazyInit()
	if !l.shut {
		l.shut = true
		l.cancel()
		if l.live == 0 {
			close(l.drained)
		}
	}
	drained := l.drained
	l.mu.Unlock()

	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for streams to end: %w", ctx.Err())
	}
}
