package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/config"
	"github.com/nordkapp42/nordkapp42/internal/server"
	"github.com/nordkapp42/nordkapp42/internal/transport/rpc"
)

// grpcService listens on the internal gRPC address and returns the service
// that serves the internal API there; nil when the listener is turned off.
// One port speaks gRPC (HTTP/2 without TLS: h2c), gRPC-Web and Connect (also
// over HTTP/1.1). TLS, where wanted, is a service mesh's or a proxy's.
func grpcService(cfg config.Config, svc *app.Service, verifier *auth.Verifier, log *slog.Logger, m rpc.Recorder) (service, error) {
	if cfg.GRPCAddr == "" {
		return nil, nil
	}
	h := rpc.NewHandler(svc, rpc.Options{InternalToken: cfg.InternalToken, Verifier: verifier, Logger: log, Metrics: m})
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("grpc listen: %w", err)
	}
	log.Info("grpc listening", "addr", ln.Addr().String(), "internal_token_set", cfg.InternalToken != "")
	return func(ctx context.Context) error {
		// Streams never end by themselves: end them as the shutdown starts,
		// so that it waits only for calls that finish.
		stop := context.AfterFunc(ctx, h.EndStreams)
		defer stop()
		return server.Serve(ctx, srv, ln, cfg.ShutdownTimeout)
	}, nil
}
