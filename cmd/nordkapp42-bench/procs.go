package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// childEnv marks a process the tool started to run a share of the
// subscribers; it is not a flag so that it stays out of -help.
const childEnv = "NORDKAPP42_BENCH_CHILD"

// Messages between the tool and a child, one JSON object a line: the parent
// writes the groupSpec, then {"cmd":"ready"} once the probes are sent, then
// {"cmd":"drain","expect":[…]}; the child answers each step (and the spec)
// with one message, "connected", "ready" and "result", or with "error".
type childCmd struct {
	Cmd    string  `json:"cmd"`
	Expect []int64 `json:"expect,omitempty"`
}

type childMsg struct {
	Kind   string      `json:"kind"`
	Status groupStatus `json:"status"`
	Result groupResult `json:"result"`
	Error  string      `json:"error,omitempty"`
}

// splitSubs deals subscribers round-robin over procs groups.
func splitSubs(subs []subSpec, procs int) [][]subSpec {
	out := make([][]subSpec, procs)
	for i, s := range subs {
		out[i%procs] = append(out[i%procs], s)
	}
	return out
}

// remoteGroup is a share of the subscribers run by a child process.
type remoteGroup struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	enc    *json.Encoder
	msgs   chan childMsg // closed when the child's stdout ends
	waited chan struct{} // closed once the process was reaped
	err    error         // how it exited; read after waited
}

var _ subGroup = (*remoteGroup)(nil)

// startChild re-executes this program as a child running spec.
func startChild(spec groupSpec, stderr io.Writer) (*remoteGroup, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to re-execute: %w", err)
	}
	cmd := exec.Command(exe) //nolint:gosec // this very program
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child: %w", err)
	}
	r := &remoteGroup{cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin), msgs: make(chan childMsg, 4), waited: make(chan struct{})}
	go func() {
		defer close(r.msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			var m childMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = childMsg{Kind: "error", Error: fmt.Sprintf("child wrote %.200q: %v", sc.Text(), err)}
			}
			r.msgs <- m
		}
		_, _ = io.Copy(io.Discard, stdout)
		r.err = cmd.Wait()
		close(r.waited)
	}()
	if err := r.enc.Encode(spec); err != nil { //nolint:gosec // the child signs tokens with the secret; a pipe to our own process
		_ = r.close()
		return nil, fmt.Errorf("send the child its spec: %w", err)
	}
	return r, nil
}

// await returns the child's next message, which must be of kind.
func (r *remoteGroup) await(ctx context.Context, kind string) (childMsg, error) {
	select {
	case m, ok := <-r.msgs:
		switch {
		case !ok:
			<-r.waited
			return childMsg{}, fmt.Errorf("child %d exited before %s: %w", r.cmd.Process.Pid, kind, r.err)
		case m.Kind == "error":
			return childMsg{}, fmt.Errorf("child %d: %s", r.cmd.Process.Pid, m.Error)
		case m.Kind != kind:
			return childMsg{}, fmt.Errorf("child %d: want %s, got %s", r.cmd.Process.Pid, kind, m.Kind)
		}
		return m, nil
	case <-ctx.Done():
		return childMsg{}, fmt.Errorf("wait for child %d's %s: %w", r.cmd.Process.Pid, kind, ctx.Err())
	}
}

func (r *remoteGroup) connect(ctx context.Context) (groupStatus, error) {
	m, err := r.await(ctx, "connected")
	return m.Status, err
}

func (r *remoteGroup) waitReady(ctx context.Context) (groupStatus, error) {
	if err := r.enc.Encode(childCmd{Cmd: "ready"}); err != nil {
		return groupStatus{}, fmt.Errorf("tell child to wait for the probes: %w", err)
	}
	m, err := r.await(ctx, "ready")
	return m.Status, err
}

func (r *remoteGroup) drain(ctx context.Context, expect []int64) (groupResult, error) {
	if err := r.enc.Encode(childCmd{Cmd: "drain", Expect: expect}); err != nil {
		return groupResult{}, fmt.Errorf("tell child to drain: %w", err)
	}
	m, err := r.await(ctx, "result")
	return m.Result, err
}

// close ends the child: closing its stdin tells it to close its connections
// and exit; one that has not exited 15 s later is killed.
func (r *remoteGroup) close() error {
	_ = r.stdin.Close()
	select {
	case <-r.waited:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		for range r.msgs { //nolint:revive // drain until the reader goroutine ends
		}
		<-r.waited
	}
	var exit *exec.ExitError
	if r.err != nil && !errors.As(r.err, &exit) {
		return r.err
	}
	return nil
}

// runChild is the whole life of a child: read the spec, connect, wait for
// the probes, drain, report. It ends early when its stdin closes.
func runChild(ctx context.Context, stdin io.Reader, stdout io.Writer) int {
	dec := json.NewDecoder(stdin)
	enc := json.NewEncoder(stdout)
	fail := func(err error) int {
		_ = enc.Encode(childMsg{Kind: "error", Error: err.Error()})
		return exitSetup
	}
	var spec groupSpec
	if err := dec.Decode(&spec); err != nil {
		return fail(fmt.Errorf("read spec: %w", err))
	}
	g, err := newGroup(spec)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = g.close() }()
	// Any command on stdin, or its end, moves the child on; reading it in
	// the background lets a closed stdin end a wait early.
	cmds := make(chan childCmd)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer cancel()
		for {
			var c childCmd
			if dec.Decode(&c) != nil {
				return
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	next := func(want string) (childCmd, error) {
		select {
		case c := <-cmds:
			if c.Cmd != want {
				return c, fmt.Errorf("want command %s, got %s", want, c.Cmd)
			}
			return c, nil
		case <-ctx.Done():
			return childCmd{}, errors.New("the parent went away")
		}
	}
	st, err := g.connect(ctx)
	if err != nil {
		return fail(err)
	}
	_ = enc.Encode(childMsg{Kind: "connected", Status: st})
	if _, err := next("ready"); err != nil {
		return fail(err)
	}
	if st, err = g.waitReady(ctx); err != nil {
		return fail(err)
	}
	_ = enc.Encode(childMsg{Kind: "ready", Status: st})
	c, err := next("drain")
	if err != nil {
		return fail(err)
	}
	res, err := g.drain(ctx, c.Expect)
	if err != nil {
		return fail(err)
	}
	_ = enc.Encode(childMsg{Kind: "result", Result: res})
	// Wait for the parent to close stdin, so that it reads the result first.
	<-ctx.Done()
	return exitOK
}
