package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("send message: %w", domain.Errorf(domain.ErrForbidden, "only owners and admins post"))
	if kind := domain.Kind(err); !errors.Is(err, domain.ErrForbidden) || !errors.Is(kind, domain.ErrForbidden) {
		t.Fatalf("Kind(%v) = %v, want ErrForbidden", err, domain.Kind(err))
	}
	if err.Error() != "send message: only owners and admins post" {
		t.Fatalf("message %q: the kind's own text must not show", err.Error())
	}
	if domain.Kind(errors.New("disk full")) != nil {
		t.Fatal("an error of no kind must be internal (nil kind)")
	}
}

func TestNextOwner(t *testing.T) {
	t.Parallel()
	m := func(id string, role domain.Role, joined int) domain.Membership {
		return domain.Membership{MemberID: id, Role: role, JoinedAt: t0.Add(time.Duration(joined) * time.Minute)}
	}
	tests := []struct {
		name string
		rest []domain.Membership
		want string
	}{
		{"longest-standing admin wins over older members", []domain.Membership{m("a", domain.RoleMember, 0), m("b", domain.RoleAdmin, 5), m("c", domain.RoleAdmin, 3)}, "c"},
		{"longest-standing member without admins", []domain.Membership{m("a", domain.RoleMember, 2), m("b", domain.RoleMember, 1)}, "b"},
		{"ties go to the smaller id", []domain.Membership{m("z", domain.RoleMember, 1), m("y", domain.RoleMember, 1)}, "y"},
		{"nobody left", nil, ""},
	}
	for _, tc := range tests {
		got, ok := domain.NextOwner(tc.rest)
		if got.MemberID != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: NextOwner = %q, %v; want %q", tc.name, got.MemberID, ok, tc.want)
		}
	}
}

func TestCheckPost(t *testing.T) {
	t.Parallel()
	member := &domain.Membership{Role: domain.RoleMember}
	admin := &domain.Membership{Role: domain.RoleAdmin}
	tests := []struct {
		kind domain.RoomKind
		m    *domain.Membership
		want error
	}{
		{domain.KindPublicGroup, nil, domain.ErrForbidden},
		{domain.KindPrivateGroup, nil, domain.ErrNotFound},
		{domain.KindPrivateGroup, member, nil},
		{domain.KindPublicChannel, member, domain.ErrForbidden},
		{domain.KindPrivateChannel, admin, nil},
		{domain.KindChat, member, nil},
	}
	for _, tc := range tests {
		err := domain.CheckPost(domain.Room{ID: "r", Kind: tc.kind}, tc.m)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("CheckPost(%s, %v) = %v, want %v", tc.kind, tc.m, err, tc.want)
		}
	}
}

func TestNormalizeText(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "  \n\t", strings.Repeat("x", domain.MaxMessageText+1)} {
		if _, err := domain.NormalizeText(text); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("NormalizeText(%d chars) = %v, want ErrInvalid", len(text), err)
		}
	}
	if got, err := domain.NormalizeText("  " + strings.Repeat("ø", domain.MaxMessageText) + " "); err != nil || len([]rune(got)) != domain.MaxMessageText {
		t.Errorf("4,000 two-byte characters: %v (len %d)", err, len([]rune(got)))
	}
}

func TestRemindAt(t *testing.T) {
	t.Parallel()
	due := t0.Add(48 * time.Hour)
	tests := []struct {
		remind domain.RemindOffset
		want   time.Duration
	}{
		{domain.RemindAtDue, 0}, {domain.RemindMin5, 5 * time.Minute}, {domain.RemindMin10, 10 * time.Minute},
		{domain.RemindMin15, 15 * time.Minute}, {domain.RemindHour1, time.Hour}, {domain.RemindHour2, 2 * time.Hour},
		{domain.RemindDay1, 24 * time.Hour}, {domain.RemindDay2, 48 * time.Hour},
	}
	for _, tc := range tests {
		at := domain.Task{DueAt: &due, Remind: tc.remind}.RemindAt()
		if at == nil || !at.Equal(due.Add(-tc.want)) {
			t.Errorf("%s: remindAt %v, want %v", tc.remind, at, due.Add(-tc.want))
		}
	}
	if at := (domain.Task{DueAt: &due, Remind: domain.RemindNone}).RemindAt(); at != nil {
		t.Errorf("NONE: remindAt %v, want none", at)
	}
}

func TestReminderTextSaysLate(t *testing.T) {
	t.Parallel()
	due := t0
	task := domain.Task{Title: "Ship", DueAt: &due}
	if got := domain.ReminderText(task, t0, t0.Add(time.Second)); !strings.HasPrefix(got, "Reminder: Ship is due") {
		t.Errorf("on time: %q", got)
	}
	if got := domain.ReminderText(task, t0, t0.Add(7*time.Minute)); !strings.HasPrefix(got, "Late reminder (due to fire 7m0s ago): Ship") {
		t.Errorf("late: %q", got)
	}
}

func TestReservedMemberIDs(t *testing.T) {
	t.Parallel()
	if !domain.ReservedMemberID(domain.SystemMemberID) || domain.ReservedMemberID("nkalice") {
		t.Fatal("only ids starting with nk: are reserved")
	}
}
