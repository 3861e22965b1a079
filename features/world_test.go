package features

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cucumber/godog"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// stories is what every scenario of one TestFeatures run shares: the server
// and the test. Scenarios share the server but never a member: each gets its
// own number, and its members' ids end in it, so no scenario sees another's
// rooms, messages or unread counts.
type stories struct {
	t   testing.TB
	srv *e2e.Server
	n   atomic.Int64

	mu     sync.Mutex
	worlds []*world
}

// world is the state of one scenario: who is in it, the room the story is
// about, the messages sent in it by text, who is watching it live, the
// outcome of the last attempt that may be refused, and the tasks whose
// reminders the story follows.
type world struct {
	srv *e2e.Server
	n   int64
	tb  *scenarioTB

	members  map[string]*member // by name, as the steps say it
	room     string             // id of the room the story is about
	roomName string             // its name as created ("" for a chat)
	reopened string             // id returned by opening the chat again
	messages map[string]string  // message id by text, in room
	watchers map[string]*watcher
	attempt  *attempt

	tasks   map[string]*task  // by title, as the steps say it
	inboxes map[string]*inbox // live notifications, by member name
	marked  *int              // what the last markAllNotificationsRead returned
}

// member is one person of a scenario.
type member struct {
	name  string // as the steps say it: alice
	id    string // unique to the scenario: alice-7
	title string // display name from the token: Alice
	token string
}

// attempt is the outcome of an action that may be refused.
type attempt struct {
	what   string
	errors []e2e.Error
}

func (s *stories) newWorld() *world {
	w := &world{
		srv:      s.srv,
		n:        s.n.Add(1),
		members:  map[string]*member{},
		messages: map[string]string{},
		watchers: map[string]*watcher{},
		tasks:    map[string]*task{},
		inboxes:  map[string]*inbox{},
	}
	s.mu.Lock()
	s.worlds = append(s.worlds, w)
	s.mu.Unlock()
	return w
}

// begin binds the scenario's godog.TestingT; it runs before the first step.
func (s *stories) begin(w *world) godog.BeforeScenarioHook {
	return func(ctx context.Context, _ *godog.Scenario) (context.Context, error) {
		gt := godog.T(ctx)
		if gt == nil {
			return ctx, fmt.Errorf("no godog.TestingT in the scenario context: run with Options.TestingT")
		}
		w.tb = newScenarioTB(s.t, gt)
		return ctx, nil
	}
}

// end closes what the scenario opened.
func (s *stories) end(w *world) godog.AfterScenarioHook {
	return func(ctx context.Context, _ *godog.Scenario, _ error) (context.Context, error) {
		return ctx, w.close()
	}
}

// closeAll closes what any scenario left open, should godog have skipped an
// After hook; closing twice is harmless.
func (s *stories) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.worlds {
		if err := w.close(); err != nil {
			s.t.Error(err)
		}
	}
}

func (w *world) close() error {
	if w.tb == nil {
		return nil
	}
	return w.tb.runCleanups()
}

var memberName = regexp.MustCompile(`^[a-z]+$`)

// member returns the member of the scenario called name, provisioning them on
// the server on first mention, as their first request would.
func (w *world) member(name string) *member {
	if m, ok := w.members[name]; ok {
		return m
	}
	if !memberName.MatchString(name) {
		w.tb.Fatalf("%q is not a member name: use a lower-case first name", name)
	}
	m := &member{name: name, id: fmt.Sprintf("%s-%d", name, w.n), title: strings.ToUpper(name[:1]) + name[1:]}
	m.token = w.srv.Token(w.tb, m.id, m.title)
	var me struct{ Me struct{ ID, Name string } }
	w.srv.Do(w.tb, m.token, opMe, nil).Decode(w.tb, &me)
	if me.Me.ID != m.id || me.Me.Name != m.title {
		w.tb.Fatalf("%s is provisioned as %+v, want id %s and name %s", name, me.Me, m.id, m.title)
	}
	w.members[name] = m
	return m
}

// nameOf returns the scenario name of a member id, or the id itself.
func (w *world) nameOf(id string) string {
	for _, m := range w.members {
		if m.id == id {
			return m.name
		}
	}
	return id
}

// do sends an operation as a member and returns the response as it is.
func (w *world) do(name, query string, vars map[string]any) e2e.Response {
	return w.srv.Do(w.tb, w.member(name).token, query, vars)
}

// must sends an operation as a member and decodes its data, failing the step
// on any error.
func (w *world) must(name, query string, vars map[string]any, out any) {
	w.do(name, query, vars).Decode(w.tb, out)
}

// try sends an operation that may be refused and keeps the outcome.
func (w *world) try(what string, r e2e.Response) {
	w.attempt = &attempt{what: what, errors: r.Errors}
}

// requireRoom fails the step when no room has been set up yet.
func (w *world) requireRoom() string {
	if w.room == "" {
		w.tb.Fatalf("no room in this scenario yet: create a group or a chat first")
	}
	return w.room
}

// messageID returns the id of the message sent with text in this scenario.
func (w *world) messageID(text string) string {
	id, ok := w.messages[text]
	if !ok {
		w.tb.Fatalf("no message %q was sent in this scenario", text)
	}
	return id
}

// send posts text into the story's room as a member, failing on refusal.
func (w *world) send(name, text string) {
	var out struct {
		SendMessage struct {
			ID     string
			Text   string
			Author struct{ ID string }
		}
	}
	w.must(name, opSend, map[string]any{"r": w.requireRoom(), "t": text}, &out)
	if got := out.SendMessage; got.Text != text || got.Author.ID != w.member(name).id {
		w.tb.Fatalf("%s sent %q, the server returned %+v", name, text, got)
	}
	if _, dup := w.messages[text]; dup {
		w.tb.Fatalf("%q was sent twice in this scenario: give each message its own text", text)
	}
	w.messages[text] = out.SendMessage.ID
}

// quoted matches one "quoted" text in a list of them.
var quoted = regexp.MustCompile(`"([^"]*)"`)

// texts splits a step's list of quoted texts: "one", "two" and "three".
func texts(list string) []string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(list, -1) {
		out = append(out, m[1])
	}
	return out
}

// names splits a list of names: bob, carol and dave.
func names(list string) []string {
	var out []string
	for _, part := range strings.Split(strings.ReplaceAll(list, " and ", ", "), ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// errorsOf decodes the errors of a subscription's error or next frame.
func errorsOf(f e2e.Frame) ([]e2e.Error, error) {
	switch f.Type {
	case "error":
		// graphql-transport-ws sends the errors array itself; the legacy
		// protocol sends one error object.
		var errs []e2e.Error
		if err := json.Unmarshal(f.Payload, &errs); err == nil {
			return errs, nil
		}
		var one e2e.Error
		if err := json.Unmarshal(f.Payload, &one); err != nil {
			return nil, fmt.Errorf("decode error frame %s: %w", f.Payload, err)
		}
		return []e2e.Error{one}, nil
	case "next":
		var r e2e.Response
		if err := json.Unmarshal(f.Payload, &r); err != nil {
			return nil, fmt.Errorf("decode next frame %s: %w", f.Payload, err)
		}
		return r.Errors, nil
	}
	return nil, nil
}
