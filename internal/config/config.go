// Package config reads the settings of the nordkapp42 subcommands from
// command-line flags and NORDKAPP42_* environment variables. A flag wins over
// its environment variable, which wins over the default.
package config

import (
	"errors"
	"log/slog"
	"time"
)

// Config is the configuration of the serve subcommand.
type Config struct {
	// Addr is the address the HTTP server listens on.
	Addr string
	// DataDir holds the node's files: the SQLite database and, when no key is
	// configured, the generated JWT secret.
	DataDir string
	// Demo enables demo mode, for trying the server out locally; never for
	// production.
	Demo bool
	// JWTSecret is the HS256 secret tokens are verified with. When it and
	// JWTPublicKeyFile are both empty, the secret kept in DataDir is used, and
	// created on first start.
	JWTSecret string
	// JWTPublicKeyFile is the path of a PEM public key (RSA for RS256, EC P-256
	// for ES256) that tokens from an external identity provider are verified
	// with.
	JWTPublicKeyFile string
	// RateLimit is how many messages per second one member may send, on
	// average; 0 disables the limit.
	RateLimit float64
	// RateBurst is how many messages a member may send at once above RateLimit.
	RateBurst int
	// LogLevel is the lowest level logged: debug, info, warn or error.
	LogLevel string
	// LogFormat is how log records are written: json, text (human-readable,
	// colored on a terminal) or auto (text on a terminal, else json).
	LogFormat string
	// DebugAddr is the address of the profiling listener; empty disables it.
	DebugAddr string
	// ShutdownTimeout bounds how long a graceful shutdown waits for requests
	// and streams to finish before closing them.
	ShutdownTimeout time.Duration
	// MaxSubscriptionsPerConn bounds the subscriptions one WebSocket connection
	// may have open at once.
	MaxSubscriptionsPerConn int
	// DatabaseURL selects the PostgreSQL store (postgres://…) instead of the
	// embedded SQLite file; nodes that share users share it.
	DatabaseURL string
	// RedisURL selects the Redis broker and presence (redis://…) instead of the
	// in-process ones.
	RedisURL string
	// RedisCluster lists host:port seeds of a Redis Cluster, comma-separated;
	// topics then travel by sharded pub/sub.
	RedisCluster string
	// GRPCAddr is the address of the internal gRPC (Connect, gRPC-Web)
	// listener for backend services; empty disables it.
	GRPCAddr string
	// InternalToken is the static token backend services authenticate to the
	// gRPC listener with; empty accepts only JWTs with a service claim.
	InternalToken string
}

// serveSettings binds the flags and environment variables of serve to the
// fields of c, and sets those fields to their defaults.
func serveSettings(c *Config) []setting {
	return []setting{
		{"addr", envPrefix + "ADDR", stringVar(&c.Addr, ":8080"), "address the HTTP server listens on", nil},
		{"data-dir", envPrefix + "DATA_DIR", stringVar(&c.DataDir, "./data"), "directory of the database and the generated JWT secret", nil},
		{"demo", envPrefix + "DEMO", boolVar(&c.Demo, false), "demo mode, for trying the server out locally; never for production", nil},
		{"jwt-secret", envPrefix + "JWT_SECRET", stringVar(&c.JWTSecret, ""), "HS256 secret for tokens; prefer the environment variable, as flags show in the process list; with no secret and no public key, <data-dir>/jwt-secret is used", nil},
		{"jwt-public-key", envPrefix + "JWT_PUBLIC_KEY", stringVar(&c.JWTPublicKeyFile, ""), "path of a PEM public key (RSA for RS256, EC P-256 for ES256) to verify tokens with", nil},
		{"rate-limit", envPrefix + "RATE_LIMIT", floatVar(&c.RateLimit, 50), "messages per second a member may send on average; 0 disables the limit", atLeast(&c.RateLimit, 0)},
		{"rate-burst", envPrefix + "RATE_BURST", intVar(&c.RateBurst, 100), "messages a member may send at once above the rate limit", positive(&c.RateBurst)},
		{"log-level", envPrefix + "LOG_LEVEL", stringVar(&c.LogLevel, "info"), "lowest level logged: debug, info, warn or error", oneOf(&c.LogLevel, "debug", "info", "warn", "error")},
		{"log-format", envPrefix + "LOG_FORMAT", stringVar(&c.LogFormat, "auto"), "log format: json, text (readable, colored on a terminal) or auto (text when stderr is a terminal, else json)", oneOf(&c.LogFormat, "auto", "json", "text")},
		{"debug-addr", envPrefix + "DEBUG_ADDR", stringVar(&c.DebugAddr, ""), "address of the profiling listener (pprof, POST /debug/gc), e.g. 127.0.0.1:6060; empty: off. Keep it private", nil},
		{"shutdown-timeout", envPrefix + "SHUTDOWN_TIMEOUT", durationVar(&c.ShutdownTimeout, 25*time.Second), "how long a graceful shutdown waits for requests and streams to finish", positive(&c.ShutdownTimeout)},
		{"database-url", envPrefix + "DATABASE_URL", stringVar(&c.DatabaseURL, ""), "PostgreSQL URL (postgres://user:pass@host:5432/db); empty: the embedded SQLite store in --data-dir", nil},
		{"redis-url", envPrefix + "REDIS_URL", stringVar(&c.RedisURL, ""), "Redis URL (redis://host:6379/0) for fan-out and presence across nodes; empty: in-process", nil},
		{"redis-cluster", envPrefix + "REDIS_CLUSTER", stringVar(&c.RedisCluster, ""), "comma-separated host:port seeds of a Redis Cluster (sharded pub/sub); instead of --redis-url", func() error {
			if c.RedisCluster != "" && c.RedisURL != "" {
				return errors.New("set either a Redis URL or a Redis Cluster, not both")
			}
			return nil
		}},
		{"grpc-addr", envPrefix + "GRPC_ADDR", stringVar(&c.GRPCAddr, ":9090"), "address of the internal gRPC listener (gRPC, gRPC-Web and Connect over h2c) for backend services; empty: off. Keep it private", nil},
		{"internal-token", envPrefix + "INTERNAL_TOKEN", stringVar(&c.InternalToken, ""), "static token backend services send to the gRPC listener (authorization: Bearer <token>); prefer the environment variable. Empty: only JWTs with a service claim", nil},
		{"max-subscriptions-per-conn", envPrefix + "MAX_SUBSCRIPTIONS_PER_CONN", intVar(&c.MaxSubscriptionsPerConn, 100), "subscriptions one WebSocket connection may have open at once", positive(&c.MaxSubscriptionsPerConn)},
	}
}

// ParseServe reads the configuration of the serve subcommand from args (the
// arguments after "serve") and getenv (usually os.Getenv; nil for none). An
// invalid value gives an error naming the flag or environment variable; -h or
// --help gives ErrHelp.
func ParseServe(args []string, getenv func(string) string) (Config, error) {
	var c Config
	if err := parse("serve", serveSettings(&c), args, getenv); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ServeUsage returns the help text of the serve subcommand: every flag with
// its environment variable and default.
func ServeUsage() string {
	var c Config
	return usage("Usage: nordkapp42 serve [flags]\n\nRun the messaging server.", serveSettings(&c))
}

// LogValue keeps the JWT secret out of logs: logging a Config shows whether a
// secret is set, never the secret itself.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("data_dir", c.DataDir),
		slog.Bool("demo", c.Demo),
		slog.Bool("jwt_secret_set", c.JWTSecret != ""),
		slog.String("jwt_public_key_file", c.JWTPublicKeyFile),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Int("rate_burst", c.RateBurst),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
		slog.String("debug_addr", c.DebugAddr),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Int("max_subscriptions_per_conn", c.MaxSubscriptionsPerConn),
		slog.Bool("database_url_set", c.DatabaseURL != ""),
		slog.Bool("redis_url_set", c.RedisURL != ""),
		slog.String("redis_cluster", c.RedisCluster),
		slog.String("grpc_addr", c.GRPCAddr),
		slog.Bool("internal_token_set", c.InternalToken != ""),
	)
}
