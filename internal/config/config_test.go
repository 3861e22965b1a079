package config

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// env returns a getenv that reads from vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func defaultConfig() Config {
	return Config{
		Addr:                    ":8080",
		DataDir:                 "./data",
		RateLimit:               50,
		RateBurst:               100,
		LogLevel:                "info",
		LogFormat:               "auto",
		ShutdownTimeout:         25 * time.Second,
		MaxSubscriptionsPerConn: 100,
		GRPCAddr:                ":9090",
	}
}

func TestParseServe(t *testing.T) {
	t.Parallel()
	allEnv := map[string]string{
		"NORDKAPP42_ADDR":                       ":9090",
		"NORDKAPP42_DATA_DIR":                   "/var/lib/nordkapp42",
		"NORDKAPP42_DEMO":                       "1",
		"NORDKAPP42_JWT_SECRET":                 "s3cret",
		"NORDKAPP42_JWT_PUBLIC_KEY":             "/etc/nordkapp42/jwt.pem",
		"NORDKAPP42_RATE_LIMIT":                 "2.5",
		"NORDKAPP42_RATE_BURST":                 "7",
		"NORDKAPP42_LOG_LEVEL":                  "debug",
		"NORDKAPP42_LOG_FORMAT":                 "text",
		"NORDKAPP42_SHUTDOWN_TIMEOUT":           "3s",
		"NORDKAPP42_MAX_SUBSCRIPTIONS_PER_CONN": "5",
		"NORDKAPP42_DATABASE_URL":               "postgres://u:p@db:5432/nk",
		"NORDKAPP42_REDIS_URL":                  "redis://cache:6379/0",
		"NORDKAPP42_GRPC_ADDR":                  "127.0.0.1:9999",
		"NORDKAPP42_INTERNAL_TOKEN":             "internal-s3cret",
	}
	fromAllEnv := Config{
		Addr:                    ":9090",
		DataDir:                 "/var/lib/nordkapp42",
		Demo:                    true,
		JWTSecret:               "s3cret",
		JWTPublicKeyFile:        "/etc/nordkapp42/jwt.pem",
		RateLimit:               2.5,
		RateBurst:               7,
		LogLevel:                "debug",
		LogFormat:               "text",
		ShutdownTimeout:         3 * time.Second,
		MaxSubscriptionsPerConn: 5,
		DatabaseURL:             "postgres://u:p@db:5432/nk",
		RedisURL:                "redis://cache:6379/0",
		GRPCAddr:                "127.0.0.1:9999",
		InternalToken:           "internal-s3cret",
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(*Config)
	}{
		{name: "defaults", want: func(*Config) {}},
		{name: "every environment variable", env: allEnv, want: func(c *Config) { *c = fromAllEnv }},
		{
			name: "every flag",
			args: []string{
				"--addr", ":7070", "--data-dir=/srv", "--demo", "--jwt-secret", "flag-secret",
				"--jwt-public-key", "key.pem", "--rate-limit", "0", "--rate-burst", "1",
				"--log-level", "warn", "--log-format", "text", "--shutdown-timeout", "1m",
				"--max-subscriptions-per-conn", "9", "--grpc-addr", "", "--internal-token", "flag-token",
			},
			want: func(c *Config) {
				*c = Config{
					Addr: ":7070", DataDir: "/srv", Demo: true, JWTSecret: "flag-secret",
					JWTPublicKeyFile: "key.pem", RateLimit: 0, RateBurst: 1,
					LogLevel: "warn", LogFormat: "text", ShutdownTimeout: time.Minute,
					MaxSubscriptionsPerConn: 9, InternalToken: "flag-token",
				}
			},
		},
		{
			name: "a flag beats its environment variable",
			args: []string{"--addr=:1111", "--demo=false", "--rate-limit=3"},
			env:  allEnv,
			want: func(c *Config) {
				*c = fromAllEnv
				c.Addr, c.Demo, c.RateLimit = ":1111", false, 3
			},
		},
		{
			name: "single-dash flags",
			args: []string{"-addr", ":2222", "-demo"},
			want: func(c *Config) { c.Addr, c.Demo = ":2222", true },
		},
		{
			name: "an empty environment variable leaves the default",
			env:  map[string]string{"NORDKAPP42_ADDR": "", "NORDKAPP42_RATE_LIMIT": ""},
			want: func(*Config) {},
		},
		{
			name: "boolean spellings",
			env:  map[string]string{"NORDKAPP42_DEMO": "TRUE"},
			want: func(c *Config) { c.Demo = true },
		},
		{
			name: "demo off by environment",
			env:  map[string]string{"NORDKAPP42_DEMO": "0"},
			want: func(*Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseServe(tt.args, env(tt.env))
			if err != nil {
				t.Fatalf("ParseServe: %v", err)
			}
			want := defaultConfig()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseServeNilGetenvGivesDefaults(t *testing.T) {
	t.Parallel()
	got, err := ParseServe(nil, nil)
	if err != nil {
		t.Fatalf("ParseServe: %v", err)
	}
	if diff := cmp.Diff(defaultConfig(), got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestParseServeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		// want are the parts the message must contain: at least the name of
		// the flag or variable the user got wrong.
		want    []string
		notWant string
	}{
		{name: "bad duration flag", args: []string{"--shutdown-timeout", "soon"}, want: []string{"shutdown-timeout", "not a duration"}},
		{name: "bad duration env", env: map[string]string{"NORDKAPP42_SHUTDOWN_TIMEOUT": "soon"}, want: []string{"NORDKAPP42_SHUTDOWN_TIMEOUT", "not a duration"}},
		{name: "bad number flag", args: []string{"--rate-limit", "fast"}, want: []string{"rate-limit", "not a finite number"}},
		{name: "bad number env", env: map[string]string{"NORDKAPP42_RATE_LIMIT": "fast"}, want: []string{"NORDKAPP42_RATE_LIMIT", "not a finite number"}},
		{name: "NaN rate", env: map[string]string{"NORDKAPP42_RATE_LIMIT": "NaN"}, want: []string{"NORDKAPP42_RATE_LIMIT", "not a finite number"}},
		{name: "bad integer env", env: map[string]string{"NORDKAPP42_RATE_BURST": "1.5"}, want: []string{"NORDKAPP42_RATE_BURST", "not an integer"}},
		{name: "bad bool env", env: map[string]string{"NORDKAPP42_DEMO": "yes"}, want: []string{"NORDKAPP42_DEMO", "not a boolean"}},
		{name: "bad bool flag", args: []string{"--demo=maybe"}, want: []string{"demo", "not a boolean"}},
		{name: "redis url and cluster", args: []string{"--redis-url", "redis://a:6379", "--redis-cluster", "b:7000"}, want: []string{"redis-cluster", "either a Redis URL or a Redis Cluster"}},
		{
			name:    "negative rate limit from env names only the env var",
			env:     map[string]string{"NORDKAPP42_RATE_LIMIT": "-1"},
			want:    []string{"NORDKAPP42_RATE_LIMIT must be at least 0"},
			notWant: "--rate-limit",
		},
		{
			name:    "negative rate limit from a flag names only the flag",
			args:    []string{"--rate-limit=-1"},
			env:     map[string]string{"NORDKAPP42_RATE_LIMIT": "5"},
			want:    []string{"--rate-limit must be at least 0"},
			notWant: "NORDKAPP42_RATE_LIMIT",
		},
		{name: "zero burst", args: []string{"--rate-burst=0"}, want: []string{"--rate-burst must be positive"}},
		{name: "zero shutdown timeout", env: map[string]string{"NORDKAPP42_SHUTDOWN_TIMEOUT": "0s"}, want: []string{"NORDKAPP42_SHUTDOWN_TIMEOUT must be positive"}},
		{name: "unknown log format", args: []string{"--log-format=xml"}, want: []string{"--log-format must be one of auto, json, text"}},
		{name: "unknown log level", env: map[string]string{"NORDKAPP42_LOG_LEVEL": "loud"}, want: []string{"NORDKAPP42_LOG_LEVEL must be one of"}},
		{name: "unknown flag", args: []string{"--colour"}, want: []string{"colour"}},
		{name: "stray argument", args: []string{"extra"}, want: []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseServe(tt.args, env(tt.env))
			if err == nil {
				t.Fatalf("ParseServe = %+v, nil; want an error", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q names %q, which the user did not set", err, tt.notWant)
			}
		})
	}
}

func TestParseHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help", "-help"} {
		if _, err := ParseServe([]string{arg}, nil); !errors.Is(err, ErrHelp) {
			t.Errorf("ParseServe(%q) error = %v; want ErrHelp", arg, err)
		}
		if _, err := ParseToken([]string{arg}, nil); !errors.Is(err, ErrHelp) {
			t.Errorf("ParseToken(%q) error = %v; want ErrHelp", arg, err)
		}
	}
}

func TestUsageListsEverySetting(t *testing.T) {
	t.Parallel()
	var c Config
	var tc TokenConfig
	tests := []struct {
		name     string
		text     string
		settings []setting
		defaults []string
	}{
		{name: "serve", text: ServeUsage(), settings: serveSettings(&c), defaults: []string{`default ":8080"`, "default 50", "default 25s"}},
		{name: "token", text: TokenUsage(), settings: tokenSettings(&tc), defaults: []string{"default 24h0m0s", "(required)"}},
	}
	for _, tt := range tests {
		for _, s := range tt.settings {
			if !strings.Contains(tt.text, "--"+s.flag) {
				t.Errorf("%s usage does not mention --%s", tt.name, s.flag)
			}
			if s.env != "" && !strings.Contains(tt.text, "env "+s.env) {
				t.Errorf("%s usage does not mention %s", tt.name, s.env)
			}
		}
		for _, d := range tt.defaults {
			if !strings.Contains(tt.text, d) {
				t.Errorf("%s usage does not contain %q:\n%s", tt.name, d, tt.text)
			}
		}
	}
}

func TestLogValueHidesTheSecret(t *testing.T) {
	t.Parallel()
	c := defaultConfig()
	c.JWTSecret = "do-not-log-me"
	c.DatabaseURL = "postgres://nk:db-password@db/nk"
	c.RedisURL = "redis://:redis-password@cache:6379"
	c.InternalToken = "internal-token-not-logged"
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", c)
	for _, secret := range []string{c.JWTSecret, "db-password", "redis-password", c.InternalToken} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log line contains a secret: %s", buf.String())
		}
	}
	if !strings.Contains(buf.String(), "config.jwt_secret_set=true") || !strings.Contains(buf.String(), "config.addr=:8080") {
		t.Errorf("log line lacks the expected attributes: %s", buf.String())
	}
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want TokenConfig
	}{
		{
			name: "defaults",
			args: []string{"--sub", "alice"},
			want: TokenConfig{DataDir: "./data", Sub: "alice", TTL: 24 * time.Hour},
		},
		{
			name: "every flag",
			args: []string{"--data-dir", "/srv", "--jwt-secret", "s", "--sub", "alice", "--name", "Alice", "--ttl", "-1h"},
			want: TokenConfig{DataDir: "/srv", JWTSecret: "s", Sub: "alice", Name: "Alice", TTL: -time.Hour},
		},
		{
			name: "data dir and secret from the environment",
			args: []string{"--sub=alice"},
			env:  map[string]string{"NORDKAPP42_DATA_DIR": "/env", "NORDKAPP42_JWT_SECRET": "env-secret"},
			want: TokenConfig{DataDir: "/env", JWTSecret: "env-secret", Sub: "alice", TTL: 24 * time.Hour},
		},
		{
			name: "flags beat the environment",
			args: []string{"--sub=alice", "--data-dir=/flag", "--jwt-secret=flag-secret"},
			env:  map[string]string{"NORDKAPP42_DATA_DIR": "/env", "NORDKAPP42_JWT_SECRET": "env-secret"},
			want: TokenConfig{DataDir: "/flag", JWTSecret: "flag-secret", Sub: "alice", TTL: 24 * time.Hour},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseToken(tt.args, env(tt.env))
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("token config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "missing sub", args: []string{"--name", "Alice"}, want: "--sub is required"},
		{name: "empty sub", args: []string{"--sub="}, want: "--sub is required"},
		{name: "bad ttl", args: []string{"--sub=alice", "--ttl=forever"}, want: "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseToken(tt.args, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseToken = %+v, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

func TestParseMigrate(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		if k == "NORDKAPP42_DATABASE_URL" {
			return "postgres://env/db"
		}
		return ""
	}
	c, err := ParseMigrate([]string{"status"}, env)
	if err != nil || c.Command != "status" || c.DatabaseURL != "postgres://env/db" {
		t.Fatalf("ParseMigrate(status) = %+v, %v", c, err)
	}
	c, err = ParseMigrate([]string{"up", "--database-url", "postgres://flag/db"}, env)
	if err != nil || c.Command != "up" || c.DatabaseURL != "postgres://flag/db" {
		t.Fatalf("ParseMigrate(up --database-url) = %+v, %v", c, err)
	}
	for _, args := range [][]string{nil, {"down"}, {"--database-url", "x"}} {
		if _, err := ParseMigrate(args, nil); err == nil || !strings.Contains(err.Error(), "up or status") {
			t.Errorf("ParseMigrate(%q) error = %v, want one naming up or status", args, err)
		}
	}
}
