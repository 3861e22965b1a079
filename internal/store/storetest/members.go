package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

func memberTests() []test {
	return []test{
		{"Members/EnsureMemberInsertsInUTC", testEnsureMemberInserts},
		{"Members/EnsureMemberUpdatesOnlyANewName", testEnsureMemberUpdatesName},
		{"Members/MemberNotFound", testMemberNotFound},
		{"Members/TouchLastSeen", testTouchLastSeen},
		{"Members/MembersReturnsThoseThatExist", testMembersByIDs},
	}
}

func testEnsureMemberInserts(t *testing.T, s app.Store) {
	ctx := t.Context()
	// A time in another zone goes in and comes out in UTC.
	in := domain.Member{ID: "m-1", Name: "Ada", CreatedAt: t0.In(time.FixedZone("UTC+3", 3*3600))}
	got, err := s.EnsureMember(ctx, in)
	if err != nil {
		t.Fatalf("EnsureMember: %v", err)
	}
	want := domain.Member{ID: "m-1", Name: "Ada", CreatedAt: stored(t0)}
	checkEqual(t, "EnsureMember result", got, want)

	got, err = s.Member(ctx, "m-1")
	if err != nil {
		t.Fatalf("Member: %v", err)
	}
	checkEqual(t, "Member", got, want)
}

func testEnsureMemberUpdatesName(t *testing.T, s app.Store) {
	tests := []struct {
		name     string
		again    string // the name given to the second EnsureMember
		wantName string
	}{
		{name: "new name", again: "Grace", wantName: "Grace"},
		{name: "empty name", again: "", wantName: "Ada"},
		{name: "same name", again: "Ada", wantName: "Ada"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			id := fmt.Sprintf("m-%d", i)
			if _, err := s.EnsureMember(ctx, domain.Member{ID: id, Name: "Ada", CreatedAt: at(0)}); err != nil {
				t.Fatalf("first EnsureMember: %v", err)
			}
			// Only the name may change: the creation time given again is ignored.
			got, err := s.EnsureMember(ctx, domain.Member{ID: id, Name: tc.again, CreatedAt: at(60)})
			if err != nil {
				t.Fatalf("second EnsureMember: %v", err)
			}
			want := domain.Member{ID: id, Name: tc.wantName, CreatedAt: stored(at(0))}
			checkEqual(t, "EnsureMember result", got, want)
			got, err = s.Member(ctx, id)
			if err != nil {
				t.Fatalf("Member: %v", err)
			}
			checkEqual(t, "Member", got, want)
		})
	}
}

func testMemberNotFound(t *testing.T, s app.Store) {
	_, err := s.Member(t.Context(), "nobody")
	checkKind(t, "Member of a missing id", err, domain.ErrNotFound)
}

func testTouchLastSeen(t *testing.T, s app.Store) {
	ctx := t.Context()
	ensureMember(t, s, "m-1")
	for _, seen := range []time.Time{at(10), at(20)} {
		if err := s.TouchLastSeen(ctx, "m-1", seen); err != nil {
			t.Fatalf("TouchLastSeen: %v", err)
		}
		got, err := s.Member(ctx, "m-1")
		if err != nil {
			t.Fatalf("Member: %v", err)
		}
		checkEqual(t, "LastSeenAt", got.LastSeenAt, storedPtr(&seen))
	}
	checkKind(t, "TouchLastSeen of a missing member", s.TouchLastSeen(ctx, "nobody", at(30)), domain.ErrNotFound)
}

func testMembersByIDs(t *testing.T, s app.Store) {
	ctx := t.Context()
	// More ids than one IN list of a typical adapter holds, half of them
	// missing, one given twice.
	const existing = 520
	want := map[string]domain.Member{}
	var ids []string
	for i := range existing {
		m := ensureMember(t, s, fmt.Sprintf("m-%04d", i))
		want[m.ID] = m
		ids = append(ids, m.ID, fmt.Sprintf("missing-%04d", i))
	}
	ids = append(ids, "m-0000")

	got, err := s.Members(ctx, ids)
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	checkEqual(t, "Members", got, want)

	update(t, s, func(ctx context.Context, tx app.Tx) error {
		got, err := tx.Members(ctx, ids)
		if err != nil {
			return err
		}
		checkEqual(t, "Tx.Members", got, want)
		return nil
	})

	for _, ids := range [][]string{nil, {"missing"}} {
		got, err := s.Members(ctx, ids)
		if err != nil {
			t.Fatalf("Members(%q): %v", ids, err)
		}
		checkEqual(t, fmt.Sprintf("Members(%q)", ids), got, map[string]domain.Member{})
	}
}
