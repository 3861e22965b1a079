package app_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func TestCheckActor(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	tests := []struct {
		id   string
		want error
	}{
		{alice, nil},
		{"", domain.ErrInvalid},
		{"nk:system", domain.ErrInvalid},
		{domain.SystemMemberID, domain.ErrInvalid},
		{"never-provisioned", domain.ErrNotFound},
	}
	for _, tc := range tests {
		err := svc.CheckActor(t.Context(), tc.id)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("CheckActor(%q) = %v, want %v", tc.id, err, tc.want)
		}
	}
}

func TestUpsertMember(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	m, err := svc.UpsertMember(ctx, "erin", "  Erin  ")
	if err != nil || m.ID != "erin" || m.Name != "Erin" {
		t.Fatalf("create: %+v, %v", m, err)
	}
	if m, err = svc.UpsertMember(ctx, "erin", "Erin Brockovich"); err != nil || m.Name != "Erin Brockovich" {
		t.Fatalf("rename: %+v, %v", m, err)
	}
	// The cache answers with the new name at once.
	if got, err := svc.Member(ctx, "erin"); err != nil || got.Name != "Erin Brockovich" {
		t.Errorf("Member after rename: %+v, %v", got, err)
	}
	if m, err = svc.UpsertMember(ctx, "erin", ""); err != nil || m.Name != "Erin Brockovich" {
		t.Errorf("empty name: %+v, %v; want the name kept", m, err)
	}
	if m, err = svc.UpsertMember(ctx, "frank", ""); err != nil || m.Name != "frank" {
		t.Errorf("new member without a name: %+v, %v; want named after the id", m, err)
	}
	for _, bad := range []struct{ id, name string }{
		{"", "x"}, {"nk:system", "x"}, {"gina", strings.Repeat("g", domain.MaxMemberName+1)},
	} {
		if _, err := svc.UpsertMember(ctx, bad.id, bad.name); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("UpsertMember(%q, %d chars) = %v, want invalid", bad.id, len(bad.name), err)
		}
	}
}

func TestPostSystemMessage(t *testing.T) {
	t.Parallel()
	svc, _, _ := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	room, err := svc.CreateRoom(ctx, alice, domain.KindPrivateGroup, "board", nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := svc.PostSystemMessage(ctx, room.ID, " Alice moved the card ", "move-1")
	if err != nil {
		t.Fatal(err)
	}
	if msg.AuthorID != domain.ServiceMemberID || msg.Text != "Alice moved the card" || msg.Seq != room.Seq+1 {
		t.Errorf("posted %+v", msg)
	}
	again, err := svc.PostSystemMessage(ctx, room.ID, "Alice moved the card", "move-1")
	if err != nil || again.ID != msg.ID {
		t.Errorf("retry posted %+v, %v; want the first message", again, err)
	}
	author, err := svc.Member(ctx, domain.ServiceMemberID)
	if err != nil || author.Name != domain.ServiceMemberName {
		t.Errorf("system member %+v, %v", author, err)
	}
	page, err := svc.Messages(ctx, alice, room.ID, app.PageArgs{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != msg.ID {
		t.Errorf("history %+v, want the one system message", page.Items)
	}
	for _, bad := range []struct {
		room, text string
		want       error
	}{
		{room.ID, " ", domain.ErrInvalid},
		{"not-a-room", "x", domain.ErrInvalid},
		{"01JAAAAAAAAAAAAAAAAAAAAAAA", "x", domain.ErrNotFound},
	} {
		if _, err := svc.PostSystemMessage(ctx, bad.room, bad.text, ""); !errors.Is(err, bad.want) {
			t.Errorf("PostSystemMessage(%q, %q) = %v, want %v", bad.room, bad.text, err, bad.want)
		}
	}
}
