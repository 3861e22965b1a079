// Command nordkapp42 is the messaging and reminders server.
//
//	nordkapp42 [serve] [flags]   run the server (the default subcommand)
//	nordkapp42 token --sub alice  print a signed token for a member
//	nordkapp42 migrate up|status  apply or list the PostgreSQL migrations
//	nordkapp42 version            print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `nordkapp42: real-time messaging and reminders over GraphQL

Usage:
  nordkapp42 [serve] [flags]   run the server (default)
  nordkapp42 token [flags]     print a signed HS256 token for a member
  nordkapp42 migrate up|status apply or list the PostgreSQL migrations
  nordkapp42 version           print the version

Run "nordkapp42 <command> --help" for the flags of a command.
`

// run dispatches the subcommand and returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		var cfg config.Config
		if cfg, err = config.ParseServe(args, getenv); err == nil {
			err = serve(ctx, cfg, stdout, stderr)
		} else if errors.Is(err, flag.ErrHelp) {
			_, _ = fmt.Fprint(stdout, config.ServeUsage())
			return 0
		}
	case "token":
		var cfg config.TokenConfig
		if cfg, err = config.ParseToken(args, getenv); err == nil {
			err = printToken(cfg, stdout)
		} else if errors.Is(err, flag.ErrHelp) {
			_, _ = fmt.Fprint(stdout, config.TokenUsage())
			return 0
		}
	case "migrate":
		var cfg config.MigrateConfig
		if cfg, err = config.ParseMigrate(args, getenv); err == nil {
			err = migrate(ctx, cfg.DatabaseURL, cfg.Command, stdout)
		} else if errors.Is(err, flag.ErrHelp) {
			_, _ = fmt.Fprint(stdout, config.MigrateUsage())
			return 0
		}
	case "version":
		_, _ = fmt.Fprintln(stdout, "nordkapp42", version)
	case "help", "-h", "--help":
		_, _ = fmt.Fprint(stdout, usage)
	default:
		_, _ = fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "nordkapp42:", err)
		return 1
	}
	return 0
}

// printToken prints a token signed with the configured secret, or with the
// data directory's secret that the server itself uses by default.
func printToken(cfg config.TokenConfig, stdout io.Writer) error {
	secret := []byte(cfg.JWTSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(cfg.DataDir); err != nil {
			return fmt.Errorf("token: %w", err)
		}
	}
	name := cfg.Name
	if name == "" {
		name = cfg.Sub
	}
	token, err := auth.Issue(secret, cfg.Sub, name, cfg.TTL, time.Now())
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}
