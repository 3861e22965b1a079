package main

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// connsPerSourceAddr is how many connections the tool opens from one source
// address before it uses another: the ephemeral port range (32768–60999 by
// default) gives about 28,000 ports per source address and destination, so
// 20,000 leaves room for the HTTP clients and for ports in TIME_WAIT.
const connsPerSourceAddr = 20_000

// sourceAddrs returns the loopback source addresses to dial n connections
// from: those given (comma-separated), else none (the kernel's choice, from
// 127.0.0.1) up to connsPerSourceAddr connections, else 127.0.0.2,
// 127.0.0.3… as many as needed.
func sourceAddrs(flagValue string, n int) ([]string, error) {
	if flagValue != "" {
		var out []string
		for _, a := range strings.Split(flagValue, ",") {
			a = strings.TrimSpace(a)
			ip := net.ParseIP(a)
			if ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("source address %q: not a loopback IP address", a)
			}
			out = append(out, a)
		}
		return out, nil
	}
	if n <= connsPerSourceAddr {
		return nil, nil
	}
	count := (n + connsPerSourceAddr - 1) / connsPerSourceAddr
	if count > 250 {
		return nil, fmt.Errorf("%d connections need more than 250 source addresses", n)
	}
	out := make([]string, count)
	for i := range out {
		out[i] = fmt.Sprintf("127.0.0.%d", i+2)
	}
	return out, nil
}

// httpClients returns one HTTP client per source address (one default-source
// client when there is none) for the WebSocket handshakes and SSE requests.
// Each keeps up to conns idle connections so that concurrent requests reuse
// them.
func httpClients(addrs []string, conns int) ([]*http.Client, error) {
	if len(addrs) == 0 {
		addrs = []string{""}
	}
	var out []*http.Client
	for _, a := range addrs {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		if a != "" {
			ip := net.ParseIP(a)
			if ip == nil {
				return nil, fmt.Errorf("source address %q: not an IP address", a)
			}
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
		out = append(out, &http.Client{Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConns:        max(conns, 100),
			MaxIdleConnsPerHost: max(conns, 100),
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   false,
		}})
	}
	return out, nil
}

// fileHeadroom is how many descriptors a process needs besides its
// connections: standard streams, HTTP clients, pipes to children.
const fileHeadroom = 100

// checkOpenFiles refuses to open conns connections in this process when they
// would run into its open-file limit (Go raises the soft limit to the hard
// one at start), rather than failing part way with EMFILE.
func checkOpenFiles(conns int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	limit := int64(math.MaxInt32)
	if lim.Cur < uint64(limit) {
		limit = int64(lim.Cur) //nolint:gosec // below MaxInt32, checked above
	}
	if room := limit - fileHeadroom; int64(conns) > room {
		return fmt.Errorf("%d connections in one process exceed its open-file limit (ulimit -n %d, with %d kept for other files): split them with -procs %d or more",
			conns, limit, fileHeadroom, (int64(conns)+room-1)/max(room, 1))
	}
	return nil
}
