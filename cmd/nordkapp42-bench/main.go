// Command nordkapp42-bench drives a running nordkapp42 server over its real
// transports (graphql-transport-ws by default, legacy graphql-ws or SSE) and
// measures it. Scenarios:
//
//	conns    N connections, one roomEvents subscription each; server RSS per connection
//	fanout   one room, N subscribers, M messages at rate R; deliveries/s, loss, latency
//	rooms    N subscribers each in its own chat, messages to random chats at rate R for D
//	send     C HTTP clients sending into K rooms as fast as acknowledged for D (or M messages)
//	history  pages messages(last: 50, before:) through a room the tool seeds with P messages
//
// For example:
//
//	nordkapp42-bench fanout -jwt-secret benchsecret -n 1000 -messages 200 -rate 50
//
// The tool makes its own members (ids "b<run>-…"), tokens (signed with the
// server's HS256 secret) and rooms through the public API. It prints a table
// and one JSON line, and exits 1 when a run saw failures (a connection or
// subscription that failed or ended, a send error, a lost or duplicated
// delivery), 2 when it could not be set up. Every loop is bounded in count
// and time, and the whole run by -timeout.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the run saw failures, losses or duplicates
	exitSetup  = 2 // bad flags, or the run could not be set up
)

// Scenario names.
const (
	scenarioConns   = "conns"
	scenarioFanout  = "fanout"
	scenarioRooms   = "rooms"
	scenarioSend    = "send"
	scenarioHistory = "history"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if os.Getenv(childEnv) != "" {
		code = runChild(ctx, os.Stdin, os.Stdout)
	} else {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	scenario        string
	url             string
	secret          string
	transport       string
	n               int
	rooms           int
	messages        int
	rate            float64
	duration        time.Duration
	senders         int
	clients         int
	sourceAddrs     string
	procs           int
	serverPID       int
	debugURL        string
	run             string
	timeout         time.Duration
	connectTimeout  time.Duration
	readyTimeout    time.Duration
	drainTimeout    time.Duration
	dialConcurrency int
	setupConc       int
	hold            time.Duration
	settle          time.Duration
	reuseRoom       string
	batch           int
	pages           int
}

const usage = `usage: nordkapp42-bench <conns|fanout|rooms|send|history> [flags]

Scenarios and the flags that shape them (defaults in brackets):
  conns    -n [1000] connections over -rooms [10] public rooms; -server-pid, -debug-url, -settle, -hold
  fanout   -n [1000] subscribers, -messages [200] at -rate [50]/s by -senders [4]
  rooms    -n [1000] subscribers in their own chats, -rate [2000]/s for -duration [10s], -senders [32]
  send     -clients [64] into -rooms [100] for -duration [10s] or -messages [10000000]
  history  seeds -messages [100000] (-batch [100] per request, -setup-concurrency), pages -pages [all] within -duration [60s];
           -reuse-room <id> pages an earlier run's room instead of seeding

Flags:
`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		_, _ = fmt.Fprint(stderr, usage)
		return c, errors.New("name a scenario first")
	}
	c.scenario, args = args[0], args[1:]
	fs := flag.NewFlagSet("nordkapp42-bench "+c.scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the server's base URL")
	fs.StringVar(&c.secret, "jwt-secret", os.Getenv("NORDKAPP42_JWT_SECRET"), "the server's HS256 secret, to mint tokens (default $NORDKAPP42_JWT_SECRET)")
	fs.StringVar(&c.transport, "transport", transportWS, "subscription transport: ws (graphql-transport-ws), legacy (graphql-ws) or sse")
	fs.IntVar(&c.n, "n", 1000, "connections (conns) or subscribers (fanout, rooms)")
	fs.IntVar(&c.rooms, "rooms", 0, "rooms: public rooms the connections spread over (conns, default 10), rooms sent into (send, default 100)")
	fs.IntVar(&c.messages, "messages", 0, "messages: offered (fanout, default 200), bound on the sends (send, default 10000000), seeded (history, default 100000)")
	fs.Float64Var(&c.rate, "rate", 0, "messages offered per second (fanout default 50, rooms default 2000)")
	fs.DurationVar(&c.duration, "duration", 0, "sending time (rooms, send: default 10s), paging bound (history: 60s), bound on the sending phase (fanout: 2 × messages/rate + 10s)")
	fs.IntVar(&c.senders, "senders", 0, "concurrent HTTP senders that keep the rate (fanout default 4, rooms default 32)")
	fs.IntVar(&c.clients, "clients", 64, "concurrent HTTP clients (send)")
	fs.StringVar(&c.sourceAddrs, "source-addrs", "", "loopback source addresses to dial from, comma-separated (default: 127.0.0.2… when more than 20000 connections)")
	fs.IntVar(&c.procs, "procs", 1, "processes to split the subscribers over (this one re-executed)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "the server's pid, to read its resident set from /proc (conns)")
	fs.StringVar(&c.debugURL, "debug-url", "", "the server's debug listener, e.g. http://127.0.0.1:6060, for POST /debug/gc and the goroutine count (conns)")
	fs.StringVar(&c.run, "run", "", "run id in member ids b<run>-… (default: random)")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Minute, "bound on the whole run")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 30*time.Second, "bound on one connection's handshake and subscription")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 2*time.Minute, "bound on waiting for every subscription's probe")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", time.Minute, "after the last send, bound on waiting for the deliveries")
	fs.IntVar(&c.dialConcurrency, "dial-concurrency", 64, "connections being opened at once, per process")
	fs.IntVar(&c.setupConc, "setup-concurrency", 16, "concurrent setup requests (members, chats, probes, history seeding)")
	fs.DurationVar(&c.hold, "hold", 0, "keep the connections open this long after measuring (conns)")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "after the last subscription is live, wait this long before measuring, so that the connections are idle (conns)")
	fs.StringVar(&c.reuseRoom, "reuse-room", "", "page this room instead of seeding a new one (history; the room an earlier run printed)")
	fs.IntVar(&c.batch, "batch", 100, "sendMessage mutations per seeding request (history)")
	fs.IntVar(&c.pages, "pages", 0, "bound on the pages read; 0: all (history)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, c.complete()
}

// complete checks the flags and fills the scenario's defaults.
func (c *config) complete() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	switch c.scenario {
	case scenarioConns:
		def(&c.rooms, 10)
	case scenarioFanout:
		def(&c.messages, 200)
		def(&c.senders, 4)
		if c.rate == 0 {
			c.rate = 50
		}
		defDur(&c.duration, time.Duration(2*float64(c.messages)/c.rate*float64(time.Second))+10*time.Second)
	case scenarioRooms:
		def(&c.senders, 32)
		if c.rate == 0 {
			c.rate = 2000
		}
		defDur(&c.duration, 10*time.Second)
		c.messages = int(c.rate * c.duration.Seconds())
	case scenarioSend:
		def(&c.rooms, 100)
		def(&c.messages, 10_000_000)
		defDur(&c.duration, 10*time.Second)
	case scenarioHistory:
		def(&c.messages, 100_000)
		defDur(&c.duration, time.Minute)
	default:
		return fmt.Errorf("unknown scenario %q: want conns, fanout, rooms, send or history", c.scenario)
	}
	switch {
	case c.secret == "":
		return errors.New("-jwt-secret (or NORDKAPP42_JWT_SECRET) is required: the tool signs its own tokens")
	case c.transport != transportWS && c.transport != transportLegacy && c.transport != transportSSE:
		return fmt.Errorf("-transport %q: want ws, legacy or sse", c.transport)
	case c.n < 1 || c.procs < 1 || c.rooms < 0 || c.messages < 0 || c.rate < 0 || c.batch < 1 || c.clients < 1:
		return errors.New("-n, -procs, -clients and -batch must be positive; -rooms, -messages and -rate not negative")
	case c.procs > c.n:
		return fmt.Errorf("-procs %d exceeds -n %d", c.procs, c.n)
	case c.scenario == scenarioSend && c.clients > 1000:
		return errors.New("-clients is at most 1000 (members added to a room in one call)")
	}
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want http://host:port", c.url)
	}
	if c.scenario == scenarioConns || c.scenario == scenarioFanout || c.scenario == scenarioRooms {
		// Refuse before setting anything up; each process checks again.
		if err := checkOpenFiles((c.n + c.procs - 1) / c.procs); err != nil {
			return err
		}
	}
	c.url = strings.TrimRight(c.url, "/")
	if c.run == "" {
		var b [3]byte
		_, _ = rand.Read(b[:])
		c.run = hex.EncodeToString(b[:])
	}
	return nil
}

// run parses args, runs the scenario and prints its result.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			_, _ = fmt.Fprintf(stderr, "nordkapp42-bench: %v\n", err)
		}
		return exitSetup
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// Children, senders and setup log from their own goroutines.
	stderr = &lockedWriter{w: stderr}
	b := newBench(c, stderr)
	defer b.close()
	start := time.Now()
	res, err := b.runScenario(ctx)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "nordkapp42-bench %s: %v\n", c.scenario, err)
		return exitSetup
	}
	res.ElapsedS = round2(time.Since(start).Seconds())
	if err := res.print(stdout); err != nil {
		_, _ = fmt.Fprintf(stderr, "nordkapp42-bench: print: %v\n", err)
		return exitSetup
	}
	if !res.OK {
		return exitFailed
	}
	return exitOK
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
