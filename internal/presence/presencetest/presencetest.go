// Package presencetest is the contract suite of the app.Presence port: every
// adapter (in-process, Redis, Redis Cluster) must pass it unchanged.
package presencetest

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/app"
)

var unique atomic.Int64

// id returns a member or room id no other test of this run uses, so that
// adapters over shared servers need no cleaning between tests.
func id(kind string) string {
	return fmt.Sprintf("%s-%d-%d", kind, time.Now().UnixNano(), unique.Add(1))
}

// Run runs the suite; newPresence returns a fresh adapter (one node's view).
func Run(t *testing.T, newPresence func(t *testing.T) app.Presence) {
	t.Run("connections count per member", func(t *testing.T) {
		t.Parallel()
		p := newPresence(t)
		m := id("member")
		steps := []struct {
			connect bool
			want    bool // cameOnline for Connect, wentOffline for Disconnect
			online  bool
		}{
			{connect: true, want: true, online: true},
			{connect: true, want: false, online: true},
			{connect: false, want: false, online: true},
			{connect: false, want: true, online: false},
			{connect: true, want: true, online: true},
		}
		for i, st := range steps {
			var got bool
			var err error
			if st.connect {
				got, err = p.Connect(t.Context(), m)
			} else {
				got, err = p.Disconnect(t.Context(), m)
			}
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got != st.want {
				t.Errorf("step %d (connect=%v): reported %v, want %v", i, st.connect, got, st.want)
			}
			on, err := p.Online(t.Context(), []string{m})
			if err != nil {
				t.Fatalf("step %d: Online: %v", i, err)
			}
			if on[m] != st.online {
				t.Errorf("step %d: online %v, want %v", i, on[m], st.online)
			}
		}
	})

	t.Run("disconnect without connect is ignored", func(t *testing.T) {
		t.Parallel()
		p := newPresence(t)
		m := id("member")
		if gone, err := p.Disconnect(t.Context(), m); err != nil || gone {
			t.Fatalf("Disconnect of a member never connected = %v, %v; want false, nil", gone, err)
		}
	})

	t.Run("online answers for many members at once", func(t *testing.T) {
		t.Parallel()
		p := newPresence(t)
		ids := make([]string, 600)
		want := make(map[string]bool, len(ids))
		for i := range ids {
			ids[i] = id("member")
			want[ids[i]] = i%3 == 0
			if want[ids[i]] {
				if _, err := p.Connect(t.Context(), ids[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := p.Online(t.Context(), ids)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Online (-want +got):\n%s", diff)
		}
	})

	t.Run("typing lapses and clears", func(t *testing.T) {
		t.Parallel()
		p := newPresence(t)
		room, a, b := id("room"), id("member"), id("member")
		now := time.Now()
		for _, m := range []string{a, b} {
			if err := p.SetTyping(t.Context(), room, m, now.Add(5*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		typing := func(at time.Time) []string {
			t.Helper()
			ids, err := p.Typing(t.Context(), room, at)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(ids)
			return ids
		}
		both := []string{a, b}
		slices.Sort(both)
		if diff := cmp.Diff(both, typing(now)); diff != "" {
			t.Errorf("typing now (-want +got):\n%s", diff)
		}
		if err := p.ClearTyping(t.Context(), room, a); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{b}, typing(now)); diff != "" {
			t.Errorf("typing after clearing one (-want +got):\n%s", diff)
		}
		// Time only moves forward: the lapse is checked last.
		if got := typing(now.Add(5 * time.Second)); len(got) != 0 {
			t.Errorf("typing when the entries lapse = %v, want none", got)
		}
		other, err := p.Typing(t.Context(), id("room"), now)
		if err != nil || len(other) != 0 {
			t.Errorf("typing in another room = %v, %v; want none", other, err)
		}
	})
}
