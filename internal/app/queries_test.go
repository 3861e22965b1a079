package app_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func ptr[T any](v T) *T { return &v }

// texts names the messages m001..m120 from..to.
func texts(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("m%03d", i))
	}
	return out
}

func TestMessagesPaging(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "History", bob)
	for _, text := range texts(1, 120) {
		sendMessage(t, svc, alice, room.ID, text)
	}

	type page struct {
		Texts                        []string
		HasPreviousPage, HasNextPage bool
	}
	get := func(args app.PageArgs) (page, []string) {
		t.Helper()
		p, err := svc.Messages(t.Context(), bob, room.ID, args)
		if err != nil {
			t.Fatalf("Messages(%+v): %v", args, err)
		}
		got := page{HasPreviousPage: p.HasPreviousPage, HasNextPage: p.HasNextPage}
		for _, m := range p.Items {
			got.Texts = append(got.Texts, m.Text)
		}
		return got, p.Cursors
	}
	check := func(what string, got, want page) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}

	newest, cursors := get(app.PageArgs{Last: ptr(50)})
	check("last 50", newest, page{texts(71, 120), true, false})
	older, cursors := get(app.PageArgs{Last: ptr(50), Before: &cursors[0]})
	check("last 50 before m071", older, page{texts(21, 70), true, true})
	oldest, cursors := get(app.PageArgs{Last: ptr(50), Before: &cursors[0]})
	check("last 50 before m021", oldest, page{texts(1, 20), false, true})

	forward, cursors := get(app.PageArgs{First: ptr(50), After: &cursors[len(cursors)-1]})
	check("first 50 after m020", forward, page{texts(21, 70), true, true})
	rest, _ := get(app.PageArgs{First: ptr(50), After: &cursors[len(cursors)-1]})
	check("first 50 after m070", rest, page{texts(71, 120), true, false})

	plain, _ := get(app.PageArgs{})
	check("no arguments", plain, page{texts(71, 120), true, false})
	biggest, _ := get(app.PageArgs{First: ptr(app.MaxPageSize)})
	check("first 200", biggest, page{texts(1, 120), false, false})
}

func TestMessagesRefusesBadArguments(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	room := createRoom(t, svc, alice, domain.KindPrivateGroup, "History")
	other := createRoom(t, svc, alice, domain.KindPrivateGroup, "Elsewhere")
	msg := sendMessage(t, svc, alice, room.ID, "here")
	elsewhere := app.MessageCursor(sendMessage(t, svc, alice, other.ID, "there"))
	tests := []struct {
		name string
		args app.PageArgs
	}{
		{"a cursor of another room", app.PageArgs{First: ptr(10), After: &elsewhere}},
		{"a cursor of another room, backward", app.PageArgs{Last: ptr(10), Before: &elsewhere}},
		{"a garbage cursor", app.PageArgs{After: ptr("!!not a cursor!!")}},
		{"a well-encoded cursor of nothing", app.PageArgs{After: ptr(base64.RawURLEncoding.EncodeToString([]byte("hello")))}},
		{"an event cursor", app.PageArgs{After: ptr(app.EventCursor(room.ID, msg.Seq))}},
		{"first over 200", app.PageArgs{First: ptr(app.MaxPageSize + 1)}},
		{"negative first", app.PageArgs{First: ptr(-1)}},
		{"last over 200", app.PageArgs{Last: ptr(app.MaxPageSize + 1)}},
		{"negative last", app.PageArgs{Last: ptr(-1)}},
		{"first and last", app.PageArgs{First: ptr(10), Last: ptr(10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Messages(t.Context(), alice, room.ID, tt.args)
			wantErr(t, "Messages", err, domain.ErrInvalid)
		})
	}
}

func TestEnsureMemberNames(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	tests := []struct {
		id, name, want string
	}{
		{"erin", "Erin", "Erin"},
		{"frank", "", "frank"}, // no name: the id stands in
		{"gus", strings.Repeat("g", 250), strings.Repeat("g", domain.MaxMemberName)},
		// The cut falls between characters, never inside one.
		{"hélène", strings.Repeat("é", 250), strings.Repeat("é", domain.MaxMemberName)},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if err := svc.EnsureMember(t.Context(), tt.id, tt.name); err != nil {
				t.Fatalf("EnsureMember: %v", err)
			}
			m, err := svc.Member(t.Context(), tt.id)
			if err != nil {
				t.Fatalf("Member: %v", err)
			}
			if m.Name != tt.want || !utf8.ValidString(m.Name) {
				t.Errorf("name = %q (%d bytes), want %q", m.Name, len(m.Name), tt.want)
			}
		})
	}

	// A new name in the token renames the member.
	if err := svc.EnsureMember(t.Context(), alice, "Alice Liddell"); err != nil {
		t.Fatalf("EnsureMember(alice, new name): %v", err)
	}
	if m, err := svc.Member(t.Context(), alice); err != nil || m.Name != "Alice Liddell" {
		t.Errorf("Member(alice) = %q, %v; want the new name", m.Name, err)
	}
	err := svc.EnsureMember(t.Context(), "bad\nid", "Bad")
	wantErr(t, "EnsureMember with a control character in the id", err, domain.ErrInvalid)
}
