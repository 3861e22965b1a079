package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrape reads the node's /metrics.
func scrape(t *testing.T, srv *e2e.Server) []sample {
	t.Helper()
	raw := srv.HTTP(t, srv.Request(t, http.MethodGet, "/metrics", nil))
	if raw.Status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", raw.Status)
	}
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(string(raw.Body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("sample value in %q: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// value sums the samples of name whose labels include want.
func value(samples []sample, name string, want map[string]string) float64 {
	total := 0.0
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			total += s.value
		}
	}
	return total
}

// TestMetricsCountTheNodesWork: /metrics reports the connections,
// subscriptions, operations, deliveries with their latency and store calls
// that the test causes, and never carries a room or member id as a label.
// The node's log has one line per operation with a request id and no token,
// secret or message text.
func TestMetricsCountTheNodesWork(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{Args: []string{"--log-level", "info"}})
	alice, bob := member(t, srv, "alice"), member(t, srv, "bob")
	room := createRoom(t, srv, alice, "PRIVATE_GROUP", "Metrics", "bob")
	ws := subscribe(t, srv, e2e.TransportWS, bob, roomEventsQuery, map[string]any{"r": room, "after": lastEventCursor(t, srv, alice, room)})
	sse := subscribe(t, srv, sseTransport, alice, roomEventsQuery, map[string]any{"r": room, "after": lastEventCursor(t, srv, alice, room)})
	const secretText = "the quarterly numbers are confidential"
	// Once a stream has delivered one message it is live: the three after
	// it come through the fan-out and are timed.
	send(t, srv, alice, room, secretText)
	ws.next(t)
	sse.next(t)
	for range 3 {
		send(t, srv, alice, room, secretText)
	}
	for range 3 {
		ws.next(t)
		sse.next(t)
	}
	r := srv.Do(t, alice, sendMutation, map[string]any{"r": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "t": "x"})
	if r.Code() != "NOT_FOUND" {
		t.Fatalf("send to an unknown room: code %q, want NOT_FOUND", r.Code())
	}

	var samples []sample
	eventually(t, "deliveries counted", func() bool {
		samples = scrape(t, srv)
		return value(samples, "nordkapp42_events_delivered_total", map[string]string{"transport": "websocket"}) >= 4 &&
			value(samples, "nordkapp42_events_delivered_total", map[string]string{"transport": "sse"}) >= 4
	})
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"nordkapp42_connections_open", map[string]string{"transport": "websocket"}, 1},
		{"nordkapp42_connections_open", map[string]string{"transport": "sse"}, 1},
		{"nordkapp42_subscriptions_active", map[string]string{"kind": "roomEvents"}, 2},
		{"nordkapp42_events_published_total", nil, 4},
		{"nordkapp42_delivery_latency_seconds_count", map[string]string{"transport": "websocket"}, 3},
		{"nordkapp42_delivery_latency_seconds_count", map[string]string{"transport": "sse"}, 3},
		{"nordkapp42_graphql_operations_total", map[string]string{"operation": "sendMessage", "type": "mutation", "code": "OK"}, 4},
		{"nordkapp42_graphql_operations_total", map[string]string{"operation": "sendMessage", "type": "mutation", "code": "NOT_FOUND"}, 1},
		{"nordkapp42_graphql_operation_duration_seconds_count", map[string]string{"operation": "sendMessage"}, 5},
		{"nordkapp42_store_query_duration_seconds_count", map[string]string{"op": "Update"}, 4},
		{"nordkapp42_ready", nil, 0},
		{"go_goroutines", nil, 1},
		{"process_resident_memory_bytes", nil, 1},
	}
	for _, c := range checks {
		if got := value(samples, c.name, c.labels); got < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
	if got := value(samples, "nordkapp42_graphql_operations_total", map[string]string{"code": "OK", "operation": "sendMessage"}); got != 4 {
		t.Errorf("sendMessage OK = %v, want exactly 4", got)
	}
	for _, s := range samples {
		for k, v := range s.labels {
			if v == room || v == "alice" || v == "bob" {
				t.Errorf("%s carries an id as label %s=%q", s.name, k, v)
			}
		}
	}

	logs := srv.Logs()
	for _, leak := range []string{alice, bob, secretText, string(srv.Secret)} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log contains a token, the secret or a message text: %.40q…", leak)
		}
	}
	if !regexp.MustCompile(`"msg":"operation","type":"mutation","field":"sendMessage","code":"OK","duration":\d+,"request_id":"[0-9a-f]+"`).MatchString(logs) {
		t.Errorf("no operation line for sendMessage with a request id in the log:\n%s", logs)
	}
}

// TestDebugListener: --debug-addr serves pprof and POST /debug/gc on its own
// address, and the main listener serves neither.
func TestDebugListener(t *testing.T) {
	t.Parallel()
	debugAddr := e2e.FreeAddr(t)
	srv := e2e.Start(t, e2e.Options{Args: []string{"--debug-addr", debugAddr}})
	client := &http.Client{Timeout: e2e.Wait}
	resp, err := client.Post("http://"+debugAddr+"/debug/gc", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("POST /debug/gc: status %d, want 204", resp.StatusCode)
	}
	resp, err = client.Get("http://" + debugAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "goroutine profile: total") {
		t.Errorf("goroutine profile starts %.60q", body)
	}
	if raw := srv.HTTP(t, srv.Request(t, http.MethodGet, "/debug/pprof/", nil)); raw.Status == http.StatusOK && strings.Contains(string(raw.Body), "goroutine") {
		t.Errorf("the main listener serves pprof")
	}
}

// TestSIGTERMHandsSubscribersToAnotherNode: a rolling restart. A node told
// to stop closes its WebSockets with 1012 (service restart); the client
// reconnects to another node from the last cursor it saw and misses nothing
// of what was sent meanwhile, with no duplicate.
func TestSIGTERMHandsSubscribersToAnotherNode(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, false)
	a, b := c.nodes[0], c.nodes[1]
	alice, bob := member(t, a, "alice"), member(t, b, "bob")
	room := createRoom(t, a, alice, "PRIVATE_GROUP", "Rolling", "bob")
	ws := b.DialWS(t, e2e.TransportWS, e2e.BearerPayload(bob))
	ws.Subscribe("1", roomEventsQuery, map[string]any{"r": room, "after": lastEventCursor(t, a, alice, room)})

	// alice keeps sending through a while b goes down.
	const total = 40
	var (
		wg      sync.WaitGroup
		sent    []sentMessage
		sendErr error
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range total {
			m, r, err := trySend(ctx, a, alice, room, fmt.Sprintf("m%02d", i))
			if err == nil && len(r.Errors) > 0 {
				err = fmt.Errorf("errors: %v", r.Errors)
			}
			if err != nil {
				sendErr = fmt.Errorf("send %d: %w", i, err)
				return
			}
			sent = append(sent, m)
			time.Sleep(20 * time.Millisecond)
		}
	}()

	var got []roomEvent
	for range 5 {
		e, ok := poll[roomEvent](ws, time.After(e2e.Wait))
		if !ok {
			t.Fatalf("no event on b before it stopped: %v", ws.Err())
		}
		got = append(got, e)
	}
	b.Stop(t)
	if code, reason := ws.Closed(t); code != websocket.StatusServiceRestart {
		t.Fatalf("close %d %q, want 1012", code, reason)
	}
	// Results queued before the close frame still count.
	for {
		e, ok := poll[roomEvent](ws, time.After(100*time.Millisecond))
		if !ok {
			break
		}
		got = append(got, e)
	}

	resumed := subscribe(t, a, e2e.TransportWS, bob, roomEventsQuery, map[string]any{"r": room, "after": got[len(got)-1].Cursor})
	wg.Wait()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	got = append(got, collect(t, resumed, total-len(got))...)
	wantContiguous(t, "bob across the restart", got, got[0].Seq)
	for i, m := range sent {
		if got[i].Message == nil || got[i].Message.ID != m.ID {
			t.Fatalf("event %d carries %+v, want message %s", i, got[i].Message, m.ID)
		}
	}
}
