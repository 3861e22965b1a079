package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// migrations holds the schema, one goose SQL file per version.
//
//go:embed migrations/*.sql
var migrations embed.FS

// The migration lock: replicas that start together take turns, the first
// migrating and the others finding nothing left to do. goose checks every
// lockPollSeconds, for at most lockPolls times.
const (
	lockPollSeconds = 1
	lockPolls       = 300
)

// Migrate runs the migrate subcommand against the database at databaseURL:
// "up" applies the pending migrations and prints each one applied; "status"
// prints each migration and whether it is applied.
func Migrate(ctx context.Context, databaseURL, command string, out io.Writer) error {
	if command != "up" && command != "status" {
		return domain.Errorf(domain.ErrInvalid, "unknown migrate command %q: want up or status", command)
	}
	cfg, err := parseConfig(databaseURL)
	if err != nil {
		return err
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return dbError("connect to database", err)
	}
	p, err := newProvider(ctx, db)
	if err != nil {
		return err
	}
	if command == "status" {
		return printStatus(ctx, p, out)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return dbError("migrate schema", err)
	}
	for _, r := range results {
		if _, err := fmt.Fprintln(out, r); err != nil {
			return fmt.Errorf("print migration: %w", err)
		}
	}
	if len(results) == 0 {
		if _, err := fmt.Fprintln(out, "no migration to apply"); err != nil {
			return fmt.Errorf("print migration: %w", err)
		}
	}
	return nil
}

// printStatus writes one line per migration: its file, "applied" with the
// time it was applied, or "pending".
func printStatus(ctx context.Context, p *goose.Provider, out io.Writer) error {
	statuses, err := p.Status(ctx)
	if err != nil {
		return dbError("read migration status", err)
	}
	for _, st := range statuses {
		line := fmt.Sprintf("%-20s %s", path.Base(st.Source.Path), st.State)
		if st.State == goose.StateApplied {
			line += " " + st.AppliedAt.UTC().Format(time.RFC3339)
		}
		if _, err := fmt.Fprintln(out, line); err != nil {
			return fmt.Errorf("print migration status: %w", err)
		}
	}
	return nil
}

// migrate brings the schema up to the latest version over a connection of
// its own: goose speaks database/sql.
func migrate(ctx context.Context, cfg *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := newProvider(ctx, db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return dbError("migrate schema", err)
	}
	return nil
}

// newProvider returns the goose provider of the embedded migrations, for the
// schema that db's search_path selects.
func newProvider(ctx context.Context, db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	// The advisory lock is per schema, so that databases with the tables of
	// several deployments (or tests) in schemas side by side do not make
	// each other wait.
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
		return nil, dbError("read current schema", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID(schema)), lock.WithLockTimeout(lockPollSeconds, lockPolls))
	if err != nil {
		return nil, fmt.Errorf("make migration lock: %w", err)
	}
	// The global registry would pull in Go migrations that other packages
	// register for other databases.
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// lockID is the advisory lock id of migrating schema.
func lockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("nordkapp42 migrations " + schema))
	return int64(h.Sum64()) //nolint:gosec // any 64 bits make an id
}
