package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"
)

// Recorder counts calls of the internal API by procedure and status code
// (both bounded: the procedures are those of api/proto).
type Recorder interface {
	GRPCRequest(procedure, code string)
}

// metricsInterceptor records every call's outcome, authentication failures
// included, so it runs outermost.
type metricsInterceptor struct{ rec Recorder }

func (m metricsInterceptor) record(procedure string, err error) {
	code := "ok"
	if err != nil {
		code = connect.CodeUnknown.String()
		var ce *connect.Error
		if errors.As(err, &ce) {
			code = ce.Code().String()
		}
	}
	m.rec.GRPCRequest(procedure, code)
}

func (m metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		m.record(req.Spec().Procedure, err)
		return resp, err
	}
}

func (m metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (m metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		err := next(ctx, conn)
		m.record(conn.Spec().Procedure, err)
		return err
	}
}
