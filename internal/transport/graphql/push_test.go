package graphql

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	gqlast "github.com/vektah/gqlparser/v2/ast"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// TestCohortExecutesEachEventOnce: however many subscribers of a cohort
// ask for the same event at once, it is executed once and all of them get
// the same bytes; another event is executed again.
func TestCohortExecutesEachEventOnce(t *testing.T) {
	t.Parallel()
	var cs cohorts
	var runs atomic.Int32
	c := cs.join("k", func() eventExecutor {
		return func(e *domain.Event) []byte {
			runs.Add(1)
			return fmt.Appendf(nil, `{"seq":%d}`, e.Seq)
		}
	})
	e1, e2 := &domain.Event{Seq: 1}, &domain.Event{Seq: 2}
	var wg sync.WaitGroup
	got := make([]string, 50)
	for i := range got {
		wg.Go(func() { got[i] = string(c.encode(e1)) })
	}
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("event executed %d times for 50 subscribers, want 1", n)
	}
	for i, g := range got {
		if g != `{"seq":1}` {
			t.Fatalf("subscriber %d got %s", i, g)
		}
	}
	if g := string(c.encode(e2)); g != `{"seq":2}` || runs.Load() != 2 {
		t.Errorf("second event: %s after %d runs", g, runs.Load())
	}
}

// TestCohortForgetsOldEvents: a cohort keeps the last cohortWindow events;
// an older one is executed again, and the registry drops a cohort with its
// last member.
func TestCohortForgetsOldEvents(t *testing.T) {
	t.Parallel()
	var cs cohorts
	runs := 0
	newEventExecutor := func() eventExecutor { return func(*domain.Event) []byte { runs++; return nil } }
	c := cs.join("k", newEventExecutor)
	if again := cs.join("k", func() eventExecutor { t.Fatal("a second eventExecutor made for one cohort"); return nil }); again != c {
		t.Fatal("the same key joined another cohort")
	}
	events := make([]*domain.Event, cohortWindow+1)
	for i := range events {
		events[i] = &domain.Event{Seq: int64(i)}
		c.encode(events[i])
	}
	c.encode(events[len(events)-1])
	if runs != len(events) {
		t.Errorf("%d runs for %d events, the last twice: want %d", runs, len(events), len(events))
	}
	c.encode(events[0])
	if runs != len(events)+1 {
		t.Errorf("the event past the window was not executed again")
	}
	if len(c.entries) != cohortWindow || len(c.order) != cohortWindow {
		t.Errorf("cohort holds %d entries (%d in order), want %d", len(c.entries), len(c.order), cohortWindow)
	}
	cs.leave(c)
	cs.leave(c)
	if len(cs.all) != 0 {
		t.Errorf("registry keeps %d cohorts after every member left", len(cs.all))
	}
}

// operation parses a subscription against the schema.
func operation(t *testing.T, query string) (*graphql.OperationContext, graphql.CollectedField) {
	t.Helper()
	doc, errs := gqlparser.LoadQueryWithRules(parsedSchema, query, nil)
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	rc := &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{}}
	fields := graphql.CollectFields(rc, rc.Operation.SelectionSet, subscriptionImplementors)
	return rc, fields[0]
}

func TestCohortKeyHoldsTheViewerOnlyForViewerFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query  string
		viewer bool
	}{
		{`subscription { roomEvents(roomId: "r") { cursor seq type message { id text author { id name } } member { id } actor { name } } }`, false},
		{`subscription { roomEvents(roomId: "r") { message { isRead } } }`, true},
		{`subscription { roomEvents(roomId: "r") { room { name unreadCount } } }`, true},
		{`subscription { myEvents { ... on RoomEvent { message { room { id } } } } }`, true},
		{`subscription { myEvents { ...F } } fragment F on RoomEvent { seq message { text } }`, false},
		{`subscription { myEvents { ...F } } fragment F on RoomEvent { message { isRead } }`, true},
	}
	for _, tc := range tests {
		rc, field := operation(t, tc.query)
		alice, bob := cohortKey(rc, field, "alice"), cohortKey(rc, field, "bob")
		if shared := alice == bob; shared == tc.viewer {
			t.Errorf("%s: alice and bob share a cohort: %v, want %v", tc.query, shared, !tc.viewer)
		}
	}
	rc, field := operation(t, `subscription($r: ID!) { roomEvents(roomId: $r) { seq } }`)
	rc.Variables = map[string]any{"r": "one"}
	one := cohortKey(rc, field, "alice")
	rc.Variables = map[string]any{"r": "two"}
	if cohortKey(rc, field, "alice") == one {
		t.Error("different variables share a cohort")
	}
}

// TestViewerFieldsAreComplete walks every field reachable from RoomEvent
// (not going past a viewer field, whose whole subtree is per viewer) and
// fails when its resolver reads the actor but the field is not listed in
// viewerFields.
func TestViewerFieldsAreComplete(t *testing.T) {
	t.Parallel()
	readsActor := resolversReadingActor(t)
	seen := map[string]bool{}
	var walk func(typ string)
	walk = func(typ string) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		def := parsedSchema.Types[typ]
		if def == nil || def.Kind != gqlast.Object {
			return
		}
		for _, f := range def.Fields {
			name := typ + "." + f.Name
			if viewerFields[name] {
				continue
			}
			if readsActor[strings.ToLower(name)] {
				t.Errorf("%s reads the actor, so it is viewer-dependent: add it to viewerFields", name)
			}
			walk(f.Type.Name())
		}
	}
	walk("RoomEvent")
	if !seen["Message"] || !seen["Member"] {
		t.Fatalf("the walk did not reach Message and Member: %v", seen)
	}
}

// resolversReadingActor lists, as lower-case "type.field", the resolver
// methods that call r.actor.
func resolversReadingActor(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.resolvers.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no resolver files: %v", err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Body == nil {
				continue
			}
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			recv, ok := star.X.(*ast.Ident)
			if !ok || !strings.HasSuffix(recv.Name, "Resolver") {
				continue
			}
			uses := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "actor" {
					uses = true
				}
				return !uses
			})
			if uses {
				out[strings.ToLower(strings.TrimSuffix(recv.Name, "Resolver")+"."+fn.Name.Name)] = true
			}
		}
	}
	if !out["message.isread"] {
		t.Fatalf("the resolver scan missed Message.isRead: %v", out)
	}
	return out
}
