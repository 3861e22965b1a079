package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// serverProbe reads the server's memory and goroutines: the resident set
// from /proc (the server runs on this machine), the rest from its debug
// listener when there is one.
type serverProbe struct {
	pid      int    // 0: not given
	debugURL string // "": not given
	http     *http.Client
}

// rss returns the server's resident set in KiB (VmRSS), or nil without a pid.
func (p serverProbe) rss() (*int64, error) {
	if p.pid == 0 {
		return nil, nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return nil, fmt.Errorf("read the server's memory: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse VmRSS %q: %w", v, err)
			}
			return &kib, nil
		}
	}
	return nil, fmt.Errorf("no VmRSS in /proc/%d/status", p.pid)
}

// gc makes the server collect garbage and return freed memory to the
// system (POST /debug/gc), so that the resident set after it counts live
// memory only. It reports false when there is no debug listener to ask.
func (p serverProbe) gc(ctx context.Context) (bool, error) {
	if p.debugURL == "" {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.debugURL, "/")+"/debug/gc", nil)
	if err != nil {
		return false, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("server GC: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("server GC: status %d", resp.StatusCode)
	}
	return true, nil
}

// goroutines returns the server's goroutine count from the first line of
// its goroutine profile ("goroutine profile: total N"), or nil without a
// debug listener.
func (p serverProbe) goroutines(ctx context.Context) (*int64, error) {
	if p.debugURL == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(p.debugURL, "/")+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server goroutines: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	v, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if resp.StatusCode != http.StatusOK || !ok {
		return nil, fmt.Errorf("server goroutines: status %d, %q", resp.StatusCode, line)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("server goroutines: %q: %w", line, err)
	}
	return &n, nil
}
