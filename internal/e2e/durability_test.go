package e2e_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestDurability: a message is acknowledged only once it is stored, so it
// survives the server being killed (SIGKILL, no chance to flush anything)
// right after the acknowledgement, in the history and in the event log that
// subscribers resume from.
func TestDurability(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{})
	alice := member(t, srv, "dur-alice")
	room := createRoom(t, srv, alice, "PRIVATE_GROUP", "kept")
	before := lastEventCursor(t, srv, alice, room)

	var acked []sentMessage
	for i := range 20 {
		acked = append(acked, send(t, srv, alice, room, fmt.Sprintf("survivor %d", i)))
	}
	srv.Kill(t)
	srv.Restart(t)

	// Same secret, same data dir: the token still works.
	if diff := cmp.Diff(acked, history(t, srv, alice, room, len(acked))); diff != "" {
		t.Errorf("history after the crash (-acknowledged +stored):\n%s", diff)
	}

	ws := srv.DialWS(t, e2e.TransportWS, e2e.BearerPayload(alice))
	ws.Subscribe("1", roomEventsQuery, map[string]any{"r": room, "after": before})
	prev := 0
	for i, m := range acked {
		var got struct{ RoomEvents roomEvent }
		ws.NextData(t, "1", &got)
		wantMessageEvent(t, got.RoomEvents, room, m)
		if i > 0 && got.RoomEvents.Seq != prev+1 {
			t.Errorf("replayed seq %d after %d", got.RoomEvents.Seq, prev)
		}
		prev = got.RoomEvents.Seq
	}
}
