package graphql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/metrics"
	"github.com/nordkapp42/nordkapp42/internal/transport/stream"
	"github.com/nordkapp42/nordkapp42/internal/workpool"
)

// Options tune the GraphQL endpoint.
type Options struct {
	// Verifier checks the tokens sent in connection_init payloads.
	Verifier *auth.Verifier
	// MaxSubscriptions caps the operations on one WebSocket (default 100).
	MaxSubscriptions int
	// MaxDepth caps how deeply an operation nests (default 12).
	MaxDepth int
	// MaxComplexity caps an operation's cost, one per field by default, list
	// fields counted as selected (default 5,000).
	MaxComplexity int
	// PingInterval is the keep-alive period of WebSocket and SSE (default 25s).
	PingInterval time.Duration
	// Workers runs the WebSocket connections' writers; nil starts a
	// goroutine for each.
	Workers *workpool.Pool
	// Metrics records operations, connections and deliveries; nil records
	// nothing.
	Metrics *metrics.Metrics
	// Logger gets one line per operation; nil logs nothing.
	Logger *slog.Logger
}

// Handler serves GraphQL over HTTP (POST, GET), WebSocket (graphql-transport-ws
// and graphql-ws) and SSE (graphql-sse distinct connections).
type Handler struct {
	http.Handler
	ws  *stream.WebSocket
	sse *stream.SSE
}

// NewHandler returns the GraphQL endpoint over the use cases.
func NewHandler(svc *app.Service, cfg Options) *Handler {
	if cfg.MaxSubscriptions == 0 {
		cfg.MaxSubscriptions = 100
	}
	if cfg.MaxDepth == 0 {
		cfg.MaxDepth = 12
	}
	if cfg.MaxComplexity == 0 {
		cfg.MaxComplexity = 5000
	}
	es := NewExecutableSchema(Config{Resolvers: &Resolver{svc: svc}}).(*executableSchema)
	h := &Handler{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	obs := observer{metrics: cfg.Metrics, log: cfg.Logger}
	push := &pusher{svc: svc, es: es, obs: obs}
	presence := presenceHooks{svc: svc}
	h.ws = &stream.WebSocket{
		Authenticate:     authenticator{svc: svc, verifier: cfg.Verifier}.authenticate,
		OnOpen:           presence.open,
		OnClose:          presence.close,
		MaxSubscriptions: cfg.MaxSubscriptions,
		PingInterval:     cfg.PingInterval,
		Observer:         streamObserver(cfg.Metrics),
		Pusher:           push,
		// Operations read only the trace context from the upgrade request
		// (see observer); the rest of its headers are let go.
		OperationHeaders: otel.GetTextMapPropagator().Fields(),
		Workers:          cfg.Workers,
	}
	h.sse = &stream.SSE{
		OnOpen:       presence.open,
		OnClose:      presence.close,
		Expiry:       tokenExpiry,
		PingInterval: cfg.PingInterval,
		Observer:     streamObserver(cfg.Metrics),
		Pusher:       push,
	}

	srv := handler.New(es)
	srv.AddTransport(h.ws)
	srv.AddTransport(h.sse)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(limits{es: es, maxDepth: cfg.MaxDepth, maxComplexity: cfg.MaxComplexity})
	srv.SetErrorPresenter(ErrorPresenter)
	srv.SetRecoverFunc(recoverPanic)
	srv.AroundOperations(provision(svc))
	srv.AroundOperations(obs.aroundOperations)
	h.Handler = srv
	return h
}

// Shutdown tells every WebSocket client to reconnect elsewhere (close 1012)
// and ends every SSE stream, waiting until they are gone or ctx ends.
func (h *Handler) Shutdown(ctx context.Context) error {
	errWS := h.ws.Shutdown(ctx)
	errSSE := h.sse.Shutdown(ctx)
	if errWS != nil {
		return errWS
	}
	return errSSE
}

// streamObserver is m as the transports' Observer; a nil m observes nothing.
func streamObserver(m *metrics.Metrics) stream.Observer {
	if m == nil {
		return nil
	}
	return m
}

// provision creates or renames the member a request's token names before
// the operation runs, so every use case can rely on the actor existing.
func provision(svc *app.Service) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if id, ok := auth.FromContext(ctx); ok {
			if err := svc.EnsureMember(ctx, id.MemberID, id.Name); err != nil {
				return graphql.OneShot(graphql.ErrorResponse(ctx, "%s", err.Error()))
			}
		}
		return next(ctx)
	}
}

// recoverPanic logs a resolver's panic with its stack and answers with an
// internal error that tells the client nothing more.
func recoverPanic(ctx context.Context, p any) error {
	slog.ErrorContext(ctx, "resolver panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return errors.New("internal server error")
}

// authenticator checks the token of a WebSocket's connection_init.
type authenticator struct {
	svc      *app.Service
	verifier *auth.Verifier
}

// authenticate takes the token from the init payload (Authorization or
// authToken, with or without "Bearer "), else from the upgrade request's
// Authorization header.
func (a authenticator) authenticate(ctx context.Context, r *http.Request, payload map[string]any) (context.Context, time.Time, error) {
	token := ""
	for _, key := range []string{"Authorization", "authorization", "authToken", "token"} {
		if s, ok := payload[key].(string); ok && s != "" {
			token = s
			break
		}
	}
	var id auth.Identity
	switch {
	case token != "":
		if t, ok := auth.BearerToken(token); ok {
			token = t
		}
		var err error
		if id, err = a.verifier.Verify(strings.TrimSpace(token)); err != nil {
			return ctx, time.Time{}, err
		}
	default:
		fromHeader, ok := auth.FromContext(r.Context())
		if !ok {
			if err := auth.ErrorFromContext(r.Context()); err != nil {
				return ctx, time.Time{}, err
			}
			return ctx, time.Time{}, domain.Errorf(domain.ErrUnauthenticated, "authentication required: put Authorization: Bearer <token> in the connection_init payload")
		}
		id = fromHeader
	}
	if err := a.svc.EnsureMember(ctx, id.MemberID, id.Name); err != nil {
		return ctx, time.Time{}, err
	}
	return auth.WithIdentity(ctx, id), id.ExpiresAt, nil
}

func tokenExpiry(ctx context.Context) time.Time {
	id, _ := auth.FromContext(ctx)
	return id.ExpiresAt
}

// presenceHooks count live connections for presence. They run outside any
// request, so they use a context that outlives the connection.
type presenceHooks struct{ svc *app.Service }

func (p presenceHooks) open(ctx context.Context) {
	if id, ok := auth.FromContext(ctx); ok {
		ctx = context.WithoutCancel(ctx)
		// An SSE stream opens before its operation provisions the member:
		// provision here, so that the first stream of a new member is seen.
		if err := p.svc.EnsureMember(ctx, id.MemberID, id.Name); err != nil {
			return
		}
		_ = p.svc.Connected(ctx, id.MemberID)
	}
}

func (p presenceHooks) close(ctx context.Context) {
	if id, ok := auth.FromContext(ctx); ok {
		_ = p.svc.Disconnected(context.WithoutCancel(ctx), id.MemberID)
	}
}
