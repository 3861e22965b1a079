package graphql

import (
	"context"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/nordkapp42/nordkapp42/internal/metrics"
	"github.com/nordkapp42/nordkapp42/internal/server"
)

// codeOK is the code label of an operation without errors.
const codeOK = "OK"

var tracer = otel.Tracer("github.com/nordkapp42/nordkapp42/internal/transport/graphql")

// observer records every operation: a metric, a trace span (when tracing is
// on) and one log line. It identifies an operation by its root field and
// type, never by the client's operation name, which is unbounded, and logs
// neither variables nor results, which carry message texts.
type observer struct {
	metrics *metrics.Metrics
	log     *slog.Logger
}

func (o observer) aroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	rc := graphql.GetOperationContext(ctx)
	if rc == nil || rc.Operation == nil {
		return next(ctx)
	}
	typ, field := string(rc.Operation.Operation), rootField(rc.Operation)
	if rc.Operation.Operation == ast.Subscription {
		// A subscription lasts as long as its client wants; the transports
		// count it while it is active.
		o.subscription(ctx, field)
		return next(ctx)
	}

	start := time.Now()
	ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(rc.Headers))
	ctx, span := tracer.Start(ctx, "graphql "+typ+" "+field, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("graphql.operation.type", typ), attribute.String("graphql.field", field)))
	respond := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := respond(ctx)
		d := time.Since(start)
		code := responseCode(resp)
		if code != codeOK {
			span.SetStatus(otelcodes.Error, code)
		}
		span.End()
		o.metrics.Operation(field, typ, code, d)
		o.log.LogAttrs(ctx, slog.LevelInfo, "operation", slog.String("type", typ), slog.String("field", field),
			slog.String("code", code), slog.Duration("duration", d), slog.String("request_id", server.RequestID(ctx)))
		return resp
	}
}

// subscription records the start of a subscription, pushed or run by the
// executor.
func (o observer) subscription(ctx context.Context, field string) {
	o.metrics.Operation(field, string(ast.Subscription), codeOK, 0)
	o.log.LogAttrs(ctx, slog.LevelInfo, "operation", slog.String("type", string(ast.Subscription)), slog.String("field", field),
		slog.String("request_id", server.RequestID(ctx)))
}

// rootField names an operation by its first root field; the schema bounds
// the names.
func rootField(op *ast.OperationDefinition) string {
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			return f.Name
		}
	}
	return "unknown"
}

// responseCode is the extensions.code of a response's first error, or OK.
func responseCode(resp *graphql.Response) string {
	if resp == nil || len(resp.Errors) == 0 {
		return codeOK
	}
	if code, ok := resp.Errors[0].Extensions["code"].(string); ok && code != "" {
		return code
	}
	return "INTERNAL_SERVER_ERROR"
}
