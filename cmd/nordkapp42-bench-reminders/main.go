// Command nordkapp42-bench-reminders measures how late reminders fire on one
// node, over the real path: tasks are given dates through
// app.Service.SetTaskDates (which schedules each reminder through River), and
// the River scheduler, running as serve runs it, calls
// app.Service.FireReminder over a real store (a fresh SQLite file or a fresh
// PostgreSQL schema), the in-process hub and broker, and in-process presence.
//
//	nordkapp42-bench-reminders -store sqlite -n 10000 -spread 60s
//	nordkapp42-bench-reminders -store postgres -n 1000 -spread 0
//
// It prints the lateness of every fire (when FireReminder started, minus the
// reminder's fireAt) as p50/p95/p99/max, the count fired, duplicates and
// misses, as a table and as one JSON line, and exits 1 when a reminder did
// not fire or fired twice, 2 when the run could not be set up. Everything it
// creates is removed at the end. The whole run is bounded by -timeout, plus a
// bounded shutdown and clean-up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // a reminder is missing or fired twice
	exitSetup  = 2 // bad flags, or the run could not be set up
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	store       string // "sqlite" or "postgres"
	databaseURL string
	n           int
	spread      time.Duration
	lead        time.Duration
	timeout     time.Duration
	grace       time.Duration
	settle      time.Duration
	window      time.Duration
	writers     int
	workers     int
	poll        time.Duration
	analyze     bool
	cpuProfile  string
	logLevel    string
}

// defaultDatabaseURL is the machine's shared test server, as the store's
// tests use it.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("nordkapp42-bench-reminders", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.store, "store", "sqlite", "store and scheduler database: sqlite (a temporary file) or postgres (a fresh schema)")
	fs.StringVar(&c.databaseURL, "database-url", defaultDatabaseURL, "PostgreSQL server for -store postgres; the run creates a schema there and drops it")
	fs.IntVar(&c.n, "n", 10_000, "number of reminders")
	fs.DurationVar(&c.spread, "spread", time.Minute, "the reminders' due times are spread uniformly over this long; 0: all due at the same instant (a burst)")
	fs.DurationVar(&c.lead, "lead", 10*time.Second, "the first reminder is due this long (rounded up to the next second) after the run starts creating tasks")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "bound on the whole run; the shutdown and clean-up after it are bounded separately")
	fs.DurationVar(&c.grace, "grace", 2*time.Minute, "stop waiting this long after the last reminder's due time; what has not fired then is missing")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "after every reminder fired, keep the scheduler running this long to catch repeated fires")
	fs.DurationVar(&c.window, "window", 5*time.Second, "also break lateness down by windows of due time this wide (River's scheduler pass is every 5 s); 0: no breakdown")
	fs.IntVar(&c.writers, "writers", 8, "concurrent SetTaskDates calls while creating the tasks")
	fs.IntVar(&c.workers, "workers", 0, "River workers (concurrent fires); 0: the scheduler's production default")
	fs.DurationVar(&c.poll, "poll", 0, "River's fetch poll interval; 0: the scheduler's production default")
	fs.BoolVar(&c.analyze, "analyze", false, "postgres: ANALYZE river_job once the tasks are created, so the planner knows how many jobs are scheduled")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the firing phase (from the end of task creation to the scheduler's stop) to this file")
	fs.StringVar(&c.logLevel, "log-level", "warn", "level of the server's log on stderr: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	switch {
	case fs.NArg() > 0:
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case c.store != "sqlite" && c.store != "postgres":
		return config{}, fmt.Errorf("-store must be sqlite or postgres, not %q", c.store)
	case c.n <= 0:
		return config{}, errors.New("-n must be positive")
	case c.spread < 0, c.lead < 0, c.grace < 0, c.settle < 0, c.window < 0, c.poll < 0:
		return config{}, errors.New("durations must not be negative")
	case c.timeout <= 0:
		return config{}, errors.New("-timeout must be positive")
	case c.writers <= 0:
		return config{}, errors.New("-writers must be positive")
	case c.workers < 0:
		return config{}, errors.New("-workers must not be negative")
	case c.analyze && c.store != "postgres":
		return config{}, errors.New("-analyze applies to -store postgres only")
	}
	return c, nil
}

// run parses the flags, runs the measurement and prints its report; it
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "nordkapp42-bench-reminders:", err)
		return exitSetup
	}
	res, err := measure(ctx, cfg, stderr)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "nordkapp42-bench-reminders:", err)
		return exitSetup
	}
	if err := res.write(stdout); err != nil {
		_, _ = fmt.Fprintln(stderr, "nordkapp42-bench-reminders: write report:", err)
		return exitSetup
	}
	if !res.ok() {
		return exitFailed
	}
	return exitOK
}
