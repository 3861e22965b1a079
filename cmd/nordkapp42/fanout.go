package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	redisbroker "github.com/nordkapp42/nordkapp42/internal/broker/redis"
	"github.com/nordkapp42/nordkapp42/internal/config"
	presencememory "github.com/nordkapp42/nordkapp42/internal/presence/memory"
	redispresence "github.com/nordkapp42/nordkapp42/internal/presence/redis"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

// fanout is how events and presence travel: in process on one node, through
// Redis (or a Redis Cluster) between nodes.
type fanout struct {
	broker   realtime.Broker
	presence app.Presence
	ping     func(ctx context.Context) error                   // nil: nothing to check
	run      func(ctx context.Context, svc *app.Service) error // nil: nothing to run
	close    func()
}

func openFanout(cfg config.Config, log *slog.Logger, onReconnect func()) (*fanout, error) {
	var client goredis.UniversalClient
	var broker *redisbroker.Broker
	switch {
	case cfg.RedisURL != "":
		opts, err := goredis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("--redis-url: %w", redactURLError(err))
		}
		c := goredis.NewClient(opts)
		client, broker = c, redisbroker.New(c, redisbroker.Options{Logger: log, OnReconnect: onReconnect})
	case cfg.RedisCluster != "":
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(cfg.RedisCluster, ",")})
		client, broker = c, redisbroker.NewCluster(c, redisbroker.Options{Logger: log, OnReconnect: onReconnect})
	default:
		return &fanout{broker: memory.New(), presence: presencememory.New(), close: func() {}}, nil
	}
	presence := redispresence.New(client, redispresence.Options{})
	return &fanout{
		broker:   broker,
		presence: presence,
		ping:     func(ctx context.Context) error { return client.Ping(ctx).Err() },
		run: func(ctx context.Context, svc *app.Service) error {
			return presence.Run(ctx, func(memberID string) { svc.PresenceExpired(ctx, memberID) })
		},
		close: func() {
			_ = broker.Close()
			_ = client.Close()
		},
	}, nil
}

// redactURLError keeps a malformed URL, which may hold a password, out of
// the error: only the kind of problem is reported.
func redactURLError(err error) error {
	return fmt.Errorf("malformed Redis URL (%T)", err)
}
