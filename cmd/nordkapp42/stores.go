package main

import (
	"context"
	"fmt"
	"io"

	"github.com/nordkapp42/nordkapp42/internal/store/postgres"
	"github.com/nordkapp42/nordkapp42/internal/store/sqlite"
)

func openPostgres(ctx context.Context, url string) (*postgres.Store, error) {
	s, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string) (*sqlite.Store, error) {
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open SQLite store: %w", err)
	}
	return s, nil
}

// migrate applies or lists the PostgreSQL migrations; the embedded SQLite
// store applies its own when it opens.
func migrate(ctx context.Context, url, command string, out io.Writer) error {
	if url == "" {
		_, err := fmt.Fprintln(out, "no --database-url: the embedded SQLite store applies its migrations itself when the server starts")
		return err
	}
	if err := postgres.Migrate(ctx, url, command, out); err != nil {
		return fmt.Errorf("migrate %s: %w", command, err)
	}
	return nil
}
