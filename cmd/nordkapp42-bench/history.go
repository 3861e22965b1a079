package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// historyMember owns every history room, whatever the run, so that a later
// run can page a room an earlier one seeded (-reuse-room).
const historyMember = "bench-history"

const historyQuery = `query($r: ID!, $b: Cursor) { room(id: $r) { messages(last: 50, before: $b) {
  edges { cursor node { id text createdAt author { id name } } }
  pageInfo { hasPreviousPage startCursor } } } }`

// history seeds a room with P messages (unless -reuse-room) and pages it
// from the newest message to the oldest.
func (b *bench) history(ctx context.Context) (result, error) {
	c := b.cfg
	r := b.newResult(c.messages)
	tok, err := b.setup.token(historyMember)
	if err != nil {
		return r, err
	}
	r.RoomID = c.reuseRoom
	if r.RoomID == "" {
		room, err := b.setup.createRoom(ctx, tok, "PRIVATE_GROUP", "bench history "+c.run, nil)
		if err != nil {
			return r, err
		}
		r.RoomID = room.ID
		b.logf("seeding %d messages into room %s", c.messages, r.RoomID)
		start := time.Now()
		if err := b.seed(ctx, tok, r.RoomID, c.messages); err != nil {
			return r, err
		}
		r.Seeded = c.messages
		r.SeedPerS = round2(float64(c.messages) / time.Since(start).Seconds())
		b.logf("seeded in %.1fs; page it again with -reuse-room %s", time.Since(start).Seconds(), r.RoomID)
	}

	var lat histogram
	until := time.Now().Add(c.duration)
	var before any // nil: the newest page
	for c.pages == 0 || r.Pages < c.pages {
		if time.Now().After(until) {
			r.Notes = append(r.Notes, fmt.Sprintf("stopped at the -duration bound (%s)", c.duration))
			break
		}
		var page struct {
			Room *struct {
				Messages struct {
					Edges []struct {
						Cursor string `json:"cursor"`
					} `json:"edges"`
					PageInfo struct {
						HasPreviousPage bool   `json:"hasPreviousPage"`
						StartCursor     string `json:"startCursor"`
					} `json:"pageInfo"`
				} `json:"messages"`
			} `json:"room"`
		}
		t0 := time.Now()
		if err := b.gql.do(ctx, tok, historyQuery, map[string]any{"r": r.RoomID, "b": before}, &page); err != nil {
			return r, fmt.Errorf("page %d: %w", r.Pages+1, err)
		}
		lat.record(time.Since(t0).Microseconds())
		if page.Room == nil {
			return r, fmt.Errorf("room %s is not visible to %s", r.RoomID, historyMember)
		}
		r.Pages++
		r.MessagesRead += len(page.Room.Messages.Edges)
		info := page.Room.Messages.PageInfo
		if !info.HasPreviousPage || info.StartCursor == "" {
			break
		}
		before = info.StartCursor
	}
	r.setLatency(lat.snapshot())
	if r.Seeded > 0 && c.pages == 0 && !containsPrefix(r.Notes, "stopped") && r.MessagesRead < r.Seeded {
		r.OK = false
		r.Errors = append(r.Errors, fmt.Sprintf("read %d messages of the %d seeded", r.MessagesRead, r.Seeded))
	}
	return r, nil
}

// seed sends n messages into room, -batch mutations (aliases) per request
// and -setup-concurrency requests at once.
func (b *bench) seed(ctx context.Context, token, room string, n int) error {
	batch := b.cfg.batch
	requests := (n + batch - 1) / batch
	return b.setup.parallel(ctx, "seed history", requests, func(ctx context.Context, req int) error {
		var q strings.Builder
		q.WriteString("mutation($r: ID!) {")
		for i := req * batch; i < min((req+1)*batch, n); i++ {
			fmt.Fprintf(&q, ` m%d: sendMessage(input: {roomId: $r, text: "history %d"}) { id }`, i, i)
		}
		q.WriteString(" }")
		if err := b.gql.do(ctx, token, q.String(), map[string]any{"r": room}, nil); err != nil {
			return fmt.Errorf("seed request %d: %w", req, err)
		}
		return nil
	})
}
