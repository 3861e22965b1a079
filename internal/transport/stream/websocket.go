package stream

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gobwas/ws"

	"github.com/nordkapp42/nordkapp42/internal/workpool"
)

// Defaults for the zero values of WebSocket's fields.
const (
	defaultMaxSubscriptions = 100
	defaultInitTimeout      = 10 * time.Second
	defaultWSPingInterval   = 25 * time.Second
	defaultWriteTimeout     = 10 * time.Second
	defaultSendQueue        = 16

	// wsReadLimit bounds one client message; a bigger one closes the socket
	// with 1009 (message too big).
	wsReadLimit = 1 << 20

	// closeWait is how long the peer has to answer our close frame before
	// the socket is closed anyway.
	closeWait = 5 * time.Second

	// statusServiceRestart is close code 1012: reconnect, to another node.
	statusServiceRestart ws.StatusCode = 1012
)

// WebSocket is a gqlgen transport serving GraphQL over WebSocket with the
// graphql-transport-ws subprotocol (the graphql-ws npm client) and the legacy
// graphql-ws subprotocol (Apollo's subscriptions-transport-ws); a client that
// offers no subprotocol is served the legacy one, as gqlgen does.
//
// Every connection has one reader goroutine (not the request's: Do returns
// once the connection is upgraded) and one writer fed
// by a bounded queue of SendQueue frames, which also keeps the connection's
// timers (initialisation timeout, keep-alive, credential expiry, shutdown).
// A subscription the Pusher takes runs on the pusher's goroutine; any other
// operation gets a goroutine of its own while it runs. All of them have
// stopped when Do returns.
//
// Back-pressure: when a client reads slower than its operations produce, the
// queue fills and the producers block on it, so they stop taking events; the
// bounded queue of the subscription upstream (the realtime hub) then fills
// and the hub ends that subscription with a terminal SLOW_CONSUMER error (see
// Fail). A write that takes longer than WriteTimeout closes the connection.
//
// The zero value serves with the defaults below and no authentication. Use a
// *WebSocket and do not copy it after first use.
type WebSocket struct {
	// Authenticate is called with the payload of connection_init. It returns
	// the connection's context, which must derive from ctx and carries the
	// caller's identity to every operation, and when the credential expires
	// (zero for never). An error refuses the connection: close code 4403 with
	// the error text as reason (graphql-transport-ws), or a connection_error
	// message {"message": text} then close code 4403 (legacy). Nil accepts every
	// connection with the request's context.
	Authenticate func(ctx context.Context, r *http.Request, initPayload map[string]any) (context.Context, time.Time, error)

	// OnOpen is called with the connection's context once connection_ack has
	// been queued. Nil does nothing.
	OnOpen func(ctx context.Context)

	// OnClose is called exactly once for every connection OnOpen was called
	// for, after all of its operations have stopped, whatever ended it. Its
	// context keeps the connection's values but is never cancelled, so it can
	// still be used to record that the caller went offline. Nil does nothing.
	OnClose func(ctx context.Context)

	// MaxSubscriptions bounds the active operations of one connection (default
	// 100). One more gets an error message with extensions.code RATE_LIMITED;
	// the connection stays open.
	MaxSubscriptions int

	// InitTimeout is how long a client has to send connection_init after
	// connecting (default 10s); then the socket closes with 4408.
	InitTimeout time.Duration

	// PingInterval is the keep-alive period after connection_ack (default 25s):
	// a ping message in graphql-transport-ws, a ka message in legacy (which
	// also gets one ka right after connection_ack).
	PingInterval time.Duration

	// WriteTimeout bounds the write of one frame (default 10s); a client that
	// does not read for that long is disconnected.
	WriteTimeout time.Duration

	// SendQueue is the capacity of the per-connection queue of outbound frames
	// (default 16; each slot costs about 100 bytes whether used or not). A
	// producer facing a full queue blocks until there is room
	// or the connection ends.
	SendQueue int

	// Observer hears of connections, subscriptions and deliveries. Nil
	// observes nothing.
	Observer Observer

	// Pusher, when set, is offered every subscription first; the ones it
	// takes need no goroutine per operation. Nil pulls every operation.
	Pusher Pusher

	// Workers runs the connections' writers; nil starts a goroutine for
	// each.
	Workers *workpool.Pool

	// OperationHeaders names the upgrade request's headers that operations
	// see in their OperationContext.Headers, such as the trace context.
	// Authenticate sees the whole request; after connection_init the rest is
	// let go, so that an idle connection does not keep it. Nil keeps none.
	OperationHeaders []string

	life lifecycle
}

var _ graphql.Transport = (*WebSocket)(nil)

// Supports reports whether r asks to be upgraded to a WebSocket.
func (t *WebSocket) Supports(r *http.Request) bool {
	for _, value := range r.Header.Values("Upgrade") {
		for token := range strings.SplitSeq(value, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "websocket") {
				return true
			}
		}
	}
	return false
}

// Do upgrades the request and hands the connection to a goroutine of its
// own, returning at once: net/http then lets go of the request's goroutine,
// its stack and its 8 KiB of buffers, which a long-lived idle connection
// would otherwise hold. The request's context stays the connection's
// (values kept, cancellation detached: net/http cancels it on return).
func (t *WebSocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	// Any origin may connect. Clients authenticate with the token in
	// connection_init, never with cookies, so a page on another site gains
	// nothing it does not already hold: origin checks would only stop
	// legitimate cross-origin and native clients.
	conn, err := acceptWS(w, r, []string{protocolTransportWS, protocolLegacy}, wsReadLimit)
	if err != nil {
		// The upgrader has answered the request with an HTTP error.
		return
	}

	stop, ok := t.life.join()
	if !ok {
		_ = conn.writeFrames([]frame{closeFrame(statusServiceRestart, reasonServiceRestart)}, defaultWriteTimeout)
		_ = conn.conn.Close()
		return
	}
	r = r.WithContext(context.WithoutCancel(r.Context()))
	opts := t.options()
	go func() {
		defer t.life.leave()
		opts.observer.ConnectionOpened(TransportWebSocket)
		defer opts.observer.ConnectionClosed(TransportWebSocket)
		newWSConn(opts, conn, r, exec).serve(stop)
	}()
}

// Shutdown closes every connection with 1012 "service restart", refuses new
// ones the same way, and waits until their handlers have returned (OnClose
// included) or ctx is done.
func (t *WebSocket) Shutdown(ctx context.Context) error {
	return t.life.shutdown(ctx)
}

// wsOptions are a WebSocket's settings with defaults applied.
type wsOptions struct {
	authenticate     func(ctx context.Context, r *http.Request, initPayload map[string]any) (context.Context, time.Time, error)
	onOpen           func(ctx context.Context)
	onClose          func(ctx context.Context)
	maxSubscriptions int
	initTimeout      time.Duration
	pingInterval     time.Duration
	writeTimeout     time.Duration
	sendQueue        int
	observer         Observer
	pusher           Pusher
	operationHeaders []string
	workers          *workpool.Pool
}

func (t *WebSocket) options() wsOptions {
	return wsOptions{
		authenticate:     t.Authenticate,
		onOpen:           t.OnOpen,
		onClose:          t.OnClose,
		maxSubscriptions: positive(t.MaxSubscriptions, defaultMaxSubscriptions),
		initTimeout:      positive(t.InitTimeout, defaultInitTimeout),
		pingInterval:     positive(t.PingInterval, defaultWSPingInterval),
		writeTimeout:     positive(t.WriteTimeout, defaultWriteTimeout),
		sendQueue:        positive(t.SendQueue, defaultSendQueue),
		observer:         observerOr(t.Observer),
		pusher:           t.Pusher,
		operationHeaders: t.OperationHeaders,
		workers:          t.Workers,
	}
}

// positive returns v, or def when v is not positive.
func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
