package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testSecret signs the smoke test's tokens.
const testSecret = "smoke-secret"

// testServer is a real nordkapp42 process built from this checkout.
type testServer struct {
	url, debugURL string
	pid           int
}

// startServer builds cmd/nordkapp42 (without the race detector: the tool,
// not the server, is under test) and starts it on free loopback ports with
// a fresh data directory; it is stopped when the test ends.
func startServer(t *testing.T) testServer {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "nordkapp42")
	build := exec.Command("go", "build", "-o", bin, "./cmd/nordkapp42")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the server: %v\n%s", err, out)
	}
	addr, debugAddr := freeAddr(t), freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", t.TempDir(), "--rate-limit", "0",
		"--jwt-secret", testSecret, "--debug-addr", debugAddr, "--grpc-addr=", "--log-level", "warn")
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	s := testServer{url: "http://" + addr, debugURL: "http://" + debugAddr, pid: cmd.Process.Pid}
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second) // a hang guard
	for {
		resp, err := client.Get(s.url + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("server exited during start:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// cleanEnv is this process's environment without NORDKAPP42_ variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NORDKAPP42_") {
			env = append(env, kv)
		}
	}
	return env
}

// runTool runs the tool in this process and returns its exit code and the
// decoded JSON line.
func runTool(t *testing.T, args ...string) (int, map[string]any, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, append(args, "-timeout", "90s"), &out, &errOut)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]any
	if last := lines[len(lines)-1]; strings.HasPrefix(last, "{") {
		if err := json.Unmarshal([]byte(last), &res); err != nil {
			t.Fatalf("the last line is not JSON: %v\n%s", err, out.String())
		}
	}
	return code, res, out.String() + errOut.String()
}

func TestSmokeEveryScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a server")
	}
	s := startServer(t)
	common := []string{"-url", s.url, "-jwt-secret", testSecret}
	pid := strconv.Itoa(s.pid)
	cases := []struct {
		name string
		args []string
		want map[string]any // exact JSON figures
		pos  []string       // JSON figures that must be positive
	}{
		{"conns ws", []string{"conns", "-n", "20", "-rooms", "3", "-server-pid", pid, "-debug-url", s.debugURL},
			map[string]any{"connected": 20.0, "ready": 20.0, "failed": 0.0, "ended": 0.0},
			[]string{"rss_before_kib", "rss_after_kib", "rss_after_gc_kib", "goroutines"}},
		{"conns sse without debug listener", []string{"conns", "-n", "20", "-transport", "sse", "-server-pid", pid},
			map[string]any{"connected": 20.0, "ready": 20.0, "transport": "sse"},
			[]string{"rss_after_kib"}},
		{"fanout ws", []string{"fanout", "-n", "20", "-messages", "10", "-rate", "100"},
			map[string]any{"offered": 10.0, "acked": 10.0, "expected": 200.0, "deliveries": 200.0, "loss": 0.0, "duplicates": 0.0, "gaps": 0.0},
			[]string{"deliveries_per_s", "p50_ms", "p99_ms", "max_ms"}},
		{"fanout legacy over 2 processes", []string{"fanout", "-n", "20", "-messages", "10", "-rate", "100", "-transport", "legacy", "-procs", "2"},
			map[string]any{"procs": 2.0, "connected": 20.0, "expected": 200.0, "deliveries": 200.0, "loss": 0.0, "duplicates": 0.0},
			[]string{"deliveries_per_s", "p99_ms"}},
		{"fanout sse", []string{"fanout", "-n", "20", "-messages", "10", "-rate", "100", "-transport", "sse"},
			map[string]any{"expected": 200.0, "deliveries": 200.0, "loss": 0.0, "duplicates": 0.0},
			[]string{"p99_ms"}},
		{"rooms", []string{"rooms", "-n", "20", "-rate", "20", "-duration", "500ms"},
			map[string]any{"rooms": 20.0, "offered": 10.0, "acked": 10.0, "expected": 10.0, "deliveries": 10.0, "loss": 0.0},
			[]string{"p50_ms", "deliveries_per_s"}},
		{"send", []string{"send", "-clients", "4", "-rooms", "3", "-duration", "5s", "-messages", "40"},
			map[string]any{"acked": 40.0, "send_errors": 0.0},
			[]string{"msgs_per_s", "p99_ms"}},
		{"history", []string{"history", "-messages", "130", "-batch", "20"},
			map[string]any{"seeded": 130.0, "pages": 3.0, "messages_read": 130.0},
			[]string{"p50_ms", "p99_ms"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, res, out := runTool(t, append(tc.args, common...)...)
			if code != exitOK || res == nil || res["ok"] != true {
				t.Fatalf("exit %d, result %v:\n%s", code, res, out)
			}
			for k, v := range tc.want {
				if res[k] != v {
					t.Errorf("%s = %v, want %v", k, res[k], v)
				}
			}
			for _, k := range tc.pos {
				if f, ok := res[k].(float64); !ok || f <= 0 {
					t.Errorf("%s = %v, want a positive figure", k, res[k])
				}
			}
			if !strings.Contains(out, "result") {
				t.Errorf("no human table:\n%s", out)
			}
			if t.Failed() {
				t.Log(out)
			}
		})
	}

	t.Run("history reuses a seeded room", func(t *testing.T) {
		_, first, out := runTool(t, append([]string{"history", "-messages", "60"}, common...)...)
		room, _ := first["room_id"].(string)
		if room == "" {
			t.Fatalf("no room id:\n%s", out)
		}
		code, res, out := runTool(t, append([]string{"history", "-reuse-room", room, "-pages", "1"}, common...)...)
		if code != exitOK || res["seeded"] != nil || res["pages"] != 1.0 || res["messages_read"] != 50.0 {
			t.Fatalf("exit %d, %v:\n%s", code, res, out)
		}
	})

	t.Run("a wrong secret is a setup failure", func(t *testing.T) {
		code, _, out := runTool(t, "fanout", "-url", s.url, "-jwt-secret", "wrong", "-n", "2")
		if code != exitSetup || !strings.Contains(out, "UNAUTHENTICATED") {
			t.Fatalf("exit %d, want %d with UNAUTHENTICATED:\n%s", code, exitSetup, out)
		}
	})
}

func TestFlagsRefuseBadInput(t *testing.T) {
	t.Setenv("NORDKAPP42_JWT_SECRET", "") // "fanout" alone must miss the secret
	for _, args := range [][]string{
		{},
		{"nope", "-jwt-secret", "x"},
		{"fanout"},
		{"fanout", "-jwt-secret", "x", "-transport", "smoke"},
		{"conns", "-jwt-secret", "x", "-n", "2", "-procs", "3"},
		{"conns", "-jwt-secret", "x", "-url", "ftp://x"},
		{"conns", "-jwt-secret", "x", "-n", "1000000"}, // past the open-file limit
	} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), args, &out, &errOut); code != exitSetup {
				t.Fatalf("exit %d, want %d; stderr %s", code, exitSetup, errOut.String())
			}
		})
	}
}
