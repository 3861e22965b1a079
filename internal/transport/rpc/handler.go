// Package rpc is the internal gRPC API of nordkapp42, served with Connect so
// that one listener speaks gRPC, gRPC-Web and Connect: the handlers of the
// services in api/proto (thin: decode, call a use case, encode), service
// authentication, health checking, reflection and the one place where
// domain errors become status codes.
package rpc

import (
	"context"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1/nordkapp42v1connect"
)

// maxRequestBytes bounds a request message: the largest legitimate one, a
// room created with a thousand members, is far smaller.
const maxRequestBytes = 1 << 20

// Options configure the handler.
type Options struct {
	// InternalToken is the static token services may authenticate with;
	// empty accepts none.
	InternalToken string
	// Verifier checks the JWTs services may authenticate with instead: only
	// those with a service claim pass. Nil accepts none.
	Verifier ServiceVerifier
	// Logger logs failed calls; nil logs nothing.
	Logger *slog.Logger
	// Metrics counts calls by procedure and code; nil counts nothing.
	Metrics Recorder
}

// Handler serves the services of api/proto, gRPC health checking and
// reflection over HTTP. Serve it with HTTP/2 (h2c) for gRPC clients.
type Handler struct {
	mux *http.ServeMux
	// streams ends with EndStreams; every long-lived stream ends with it.
	streams    context.Context
	endStreams context.CancelFunc
}

// services are the fully-qualified names of the services served.
var services = []string{
	nordkapp42v1connect.MemberServiceName,
	nordkapp42v1connect.RoomServiceName,
	nordkapp42v1connect.MessageServiceName,
	nordkapp42v1connect.ReminderServiceName,
}

// NewHandler returns the handler of the internal API over the use cases.
func NewHandler(svc *app.Service, opts Options) *Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	streams, end := context.WithCancel(context.Background())
	h := &Handler{mux: http.NewServeMux(), streams: streams, endStreams: end}
	calls := &calls{svc: svc, streams: streams}
	interceptors := []connect.Interceptor{
		// Authentication runs first: an unauthenticated call reaches nothing.
		newAuthInterceptor(opts.InternalToken, opts.Verifier), errorInterceptor{log: log},
	}
	if opts.Metrics != nil {
		interceptors = append([]connect.Interceptor{metricsInterceptor{rec: opts.Metrics}}, interceptors...)
	}
	handlerOpts := []connect.HandlerOption{
		connect.WithInterceptors(interceptors...),
		connect.WithReadMaxBytes(maxRequestBytes),
	}
	h.mux.Handle(nordkapp42v1connect.NewMemberServiceHandler(memberService{calls}, handlerOpts...))
	h.mux.Handle(nordkapp42v1connect.NewRoomServiceHandler(roomService{calls}, handlerOpts...))
	h.mux.Handle(nordkapp42v1connect.NewMessageServiceHandler(messageService{calls}, handlerOpts...))
	h.mux.Handle(nordkapp42v1connect.NewReminderServiceHandler(reminderService{calls}, handlerOpts...))

	// Health and reflection need no token: probes and tools such as grpcurl
	// and buf curl use them before they have one.
	h.mux.Handle(grpchealth.NewHandler(healthChecker{streams: streams}))
	reflector := grpcreflect.NewStaticReflector(services...)
	h.mux.Handle(h.endingWithStreams(grpcreflect.NewHandlerV1(reflector)))
	h.mux.Handle(h.endingWithStreams(grpcreflect.NewHandlerV1Alpha(reflector)))
	return h
}

// ServeHTTP serves a call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// EndStreams ends every open stream (with UNAVAILABLE, so that clients
// resume elsewhere from their last cursor) and makes health checks answer
// NOT_SERVING. Call it when a graceful shutdown starts: an HTTP server's
// shutdown waits for streams, which would otherwise never end by
// themselves.
func (h *Handler) EndStreams() { h.endStreams() }

// endingWithStreams makes the streams of a handler (reflection's are
// bidirectional and open-ended) end with EndStreams.
func (h *Handler) endingWithStreams(pattern string, next http.Handler) (string, http.Handler) {
	return pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(h.streams, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// healthChecker answers the gRPC health protocol: SERVING for the server
// and each of its services until shutdown starts, NOT_SERVING after.
type healthChecker struct{ streams context.Context }

// Check answers one health check.
func (c healthChecker) Check(_ context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	known := req.Service == "" || req.Service == grpchealth.HealthV1ServiceName
	for _, s := range services {
		known = known || req.Service == s
	}
	if !known {
		return nil, connect.NewError(connect.CodeNotFound, domain.Errorf(domain.ErrNotFound, "unknown service %q", req.Service))
	}
	if c.streams.Err() != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

// calls holds what every service's handlers share.
type calls struct {
	svc     *app.Service
	streams context.Context // ends with Handler.EndStreams
}

// actor checks the member a call acts for: it must be given, and exist.
func (c *calls) actor(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", domain.Errorf(domain.ErrInvalid, "actor_id is required: the member the call acts for")
	}
	if err := c.svc.CheckActor(ctx, id); err != nil {
		return "", err
	}
	return id, nil
}
