package e2e_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// clientsDir holds the npm project of the third-party client checks,
// relative to this package's directory (where go test runs its tests).
const clientsDir = "../../test/clients"

// clientsTimeout bounds the node run; check.mjs cuts itself off at 60 s, so
// this only ends a process that hangs outside its own timers.
const clientsTimeout = 90 * time.Second

// TestThirdPartyClients runs test/clients/check.mjs against a real server:
// Apollo Client, graphql-ws, subscriptions-transport-ws and graphql-sse, the
// JavaScript clients that users of the API run, each driven through the
// scenarios printed as "ok <name>" or "FAIL <name>: <why>".
func TestThirdPartyClients(t *testing.T) {
	t.Parallel()
	dir := nodeClients(t)

	srv := e2e.Start(t, e2e.Options{})
	tokens := map[string]string{}
	for _, m := range []struct{ id, name string }{{"alice", "Alice"}, {"bob", "Bob"}, {"carol", "Carol"}} {
		tok := srv.Token(t, m.id, m.name)
		// Members exist once they have made one authenticated request; the
		// scenarios add them to rooms before they ever connect.
		var me struct{ Me struct{ ID string } }
		srv.Do(t, tok, `{ me { id } }`, nil).Decode(t, &me)
		if me.Me.ID != m.id {
			t.Fatalf("provision %s: me.id is %q", m.id, me.Me.ID)
		}
		tokens[m.id] = tok
	}
	expired := srv.TokenTTL(t, "bob", "Bob", -time.Minute)

	ctx, cancel := context.WithTimeout(t.Context(), clientsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "check.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"NK_URL="+srv.URL,
		"NK_TOKEN_ALICE="+tokens["alice"],
		"NK_TOKEN_BOB="+tokens["bob"],
		"NK_TOKEN_CAROL="+tokens["carol"],
		"NK_TOKEN_EXPIRED="+expired,
	)
	failed, err := runStreaming(t, cmd)
	if err == nil {
		return
	}
	t.Logf("server log:\n%s", srv.Logs())
	if ctx.Err() != nil {
		t.Fatalf("node check.mjs did not finish within %s; failed so far: %q", clientsTimeout, failed)
	}
	if len(failed) == 0 {
		t.Fatalf("node check.mjs: %v (no FAIL line; see the output above)", err)
	}
	t.Fatalf("node check.mjs: %v\n%s", err, strings.Join(failed, "\n"))
}

// nodeClients returns the absolute directory of the client checks, or skips
// the test when node or the installed packages are missing. CI installs them
// (npm ci), so there a missing piece is a failure, not a skip.
func nodeClients(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(clientsDir)
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		missing = "test/clients/node_modules is missing"
	}
	if missing == "" {
		return dir
	}
	const msg = "node clients not installed: run npm ci in test/clients"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (%s)", msg, missing)
	}
	t.Skipf("%s (%s)", msg, missing)
	return ""
}

// runStreaming runs cmd with its stdout and stderr on one pipe, logging each
// line as it comes, and returns the FAIL lines with how the command ended.
// The pipe is an *os.File handed to the child, so exec starts no copying
// goroutines and the read loop ends when the process exits.
func runStreaming(t *testing.T, cmd *exec.Cmd) ([]string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	// The child holds its own copy; ours must go for the reader to see EOF.
	_ = w.Close()
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	var failed []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if strings.HasPrefix(line, "FAIL ") {
			failed = append(failed, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("read node output: %v", err)
		// Keep draining, or a child still writing would block until killed.
		_, _ = io.Copy(io.Discard, r)
	}
	return failed, cmd.Wait()
}
