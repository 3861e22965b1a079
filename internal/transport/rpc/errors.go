package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// codes maps each domain error kind to its status code. This is the one
// place where domain error kinds become gRPC (and Connect) codes; it follows
// the gRPC conventions, one code per kind.
var codes = map[error]connect.Code{
	domain.ErrInvalid:         connect.CodeInvalidArgument,
	domain.ErrNotFound:        connect.CodeNotFound,
	domain.ErrForbidden:       connect.CodePermissionDenied,
	domain.ErrConflict:        connect.CodeAlreadyExists,
	domain.ErrUnauthenticated: connect.CodeUnauthenticated,
	domain.ErrRateLimited:     connect.CodeResourceExhausted,
	domain.ErrUnavailable:     connect.CodeUnavailable,
	// A stream ended because its consumer fell behind: the client resumes
	// from the cursor of the last event it got, as after an abort.
	domain.ErrSlowConsumer: connect.CodeAborted,
}

// Code returns the status code for an error returned by a use case;
// anything that is not a domain error kind is internal.
func Code(err error) connect.Code {
	if code, ok := codes[domain.Kind(err)]; ok {
		return code
	}
	return connect.CodeInternal
}

// statusError turns an error of a use case into a Connect error with its
// code. Internal errors are logged with their detail and shown only as a
// generic message, so no SQL or stack trace reaches a client; so are
// unavailable dependencies, whose detail names hosts and drivers. Errors
// that are Connect errors already (from the interceptors) pass unchanged.
func statusError(ctx context.Context, log *slog.Logger, procedure string, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return connect.NewError(connect.CodeCanceled, errors.New("the call was canceled"))
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the call's deadline passed"))
	}
	code := Code(err)
	switch code {
	case connect.CodeInternal:
		log.ErrorContext(ctx, "grpc call failed", "procedure", procedure, "err", err)
		return connect.NewError(code, errors.New("internal server error"))
	case connect.CodeUnavailable:
		log.WarnContext(ctx, "grpc call failed: dependency unavailable", "procedure", procedure, "err", err)
		return connect.NewError(code, errors.New("service temporarily unavailable: try again shortly"))
	}
	return connect.NewError(code, errors.New(err.Error()))
}

// errorInterceptor maps what the handlers return with statusError, so that
// handlers return use case errors as they are.
type errorInterceptor struct{ log *slog.Logger }

func (i errorInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		if err != nil {
			return nil, statusError(ctx, i.log, req.Spec().Procedure, err)
		}
		return resp, nil
	}
}

func (i errorInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i errorInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := next(ctx, conn); err != nil {
			return statusError(ctx, i.log, conn.Spec().Procedure, err)
		}
		return nil
	}
}
