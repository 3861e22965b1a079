package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/auth"
)

// tokenTTL outlives any run.
const tokenTTL = 24 * time.Hour

// setup prepares members, tokens and rooms through the public API, as any
// client would.
type setup struct {
	gql    *gqlClient
	secret []byte
	run    string
	log    io.Writer
	conc   int // concurrent setup requests
}

// member returns the id of the run's i-th member of a kind: "b<run>-<kind><i>".
func (s *setup) member(kind string, i int) string { return fmt.Sprintf("b%s-%s%d", s.run, kind, i) }

// token mints a token for member id.
func (s *setup) token(id string) (string, error) {
	return auth.Issue(s.secret, id, id, tokenTTL, time.Now())
}

// tokens mints a token for each of ids.
func (s *setup) tokens(ids ...string) ([]string, error) {
	out := make([]string, len(ids))
	for i, id := range ids {
		t, err := s.token(id)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// provision makes the server create the members (a member exists once it
// made an authenticated request), so that others can add them to rooms.
func (s *setup) provision(ctx context.Context, ids []string) error {
	return s.parallel(ctx, "provision members", len(ids), func(ctx context.Context, i int) error {
		tok, err := s.token(ids[i])
		if err != nil {
			return err
		}
		return s.gql.do(ctx, tok, `{ me { id } }`, nil, nil)
	})
}

// roomFields are what setup needs of a room.
const roomFields = `id lastEventCursor`

// createdRoom is a room as setup reads it.
type createdRoom struct {
	ID              string `json:"id"`
	LastEventCursor string `json:"lastEventCursor"`
}

func (r createdRoom) ref() roomRef { return roomRef{ID: r.ID, After: r.LastEventCursor} }

// createRoom creates a room of kind owned by token's member, with members
// (at most 1,000, the API's bound per call).
func (s *setup) createRoom(ctx context.Context, token, kind, name string, members []string) (createdRoom, error) {
	var out struct {
		CreateRoom createdRoom `json:"createRoom"`
	}
	if members == nil {
		members = []string{}
	}
	err := s.gql.do(ctx, token, `mutation($k: RoomKind!, $n: String!, $m: [ID!]) { createRoom(input: {kind: $k, name: $n, memberIds: $m}) { `+roomFields+` } }`,
		map[string]any{"k": kind, "n": name, "m": members}, &out)
	if err != nil {
		return createdRoom{}, fmt.Errorf("create room %s: %w", name, err)
	}
	return out.CreateRoom, nil
}

// openChats opens the chat between token's member and each of others.
func (s *setup) openChats(ctx context.Context, token string, others []string) ([]createdRoom, error) {
	out := make([]createdRoom, len(others))
	err := s.parallel(ctx, "open chats", len(others), func(ctx context.Context, i int) error {
		var r struct {
			OpenChat createdRoom `json:"openChat"`
		}
		if err := s.gql.do(ctx, token, `mutation($m: ID!) { openChat(memberId: $m) { `+roomFields+` } }`, map[string]any{"m": others[i]}, &r); err != nil {
			return fmt.Errorf("open chat with %s: %w", others[i], err)
		}
		out[i] = r.OpenChat
		return nil
	})
	return out, err
}

// sendQuery is the mutation every sender uses.
const sendQuery = `mutation($r: ID!, $t: String!) { sendMessage(input: {roomId: $r, text: $t}) { id } }`

// sendProbes sends one probe message into each room.
func (s *setup) sendProbes(ctx context.Context, token, probe string, rooms []roomRef) error {
	return s.parallel(ctx, "send probes", len(rooms), func(ctx context.Context, i int) error {
		return s.gql.do(ctx, token, sendQuery, map[string]any{"r": rooms[i].ID, "t": probe}, nil)
	})
}

// parallel runs f for 0…n-1 on s.conc workers, stopping at the first error,
// and logs progress of long steps every 5 s.
func (s *setup) parallel(ctx context.Context, what string, n int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(max(s.conc, 1), n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		})
	}
	stop := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_, _ = fmt.Fprintf(s.log, "  %s: %d/%d\n", what, done.Load(), n)
			case <-stop:
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	progress.Wait()
	if err := context.Cause(ctx); err != nil && done.Load() < int64(n) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
