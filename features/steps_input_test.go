package features

import (
	"strings"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

func (w *world) triesLongMessage(name string, n int) { w.triesLongMessageOf(name, n, "x") }

// triesLongMessageOf posts a message of n copies of one character; limits
// count characters, not bytes, so a two-byte character makes a difference.
func (w *world) triesLongMessageOf(name string, n int, char string) {
	w.triesToPost(name, strings.Repeat(char, n))
}

func (w *world) triesLongName(name, privacy, kind string, n int) {
	vars := map[string]any{"k": roomKind(privacy, kind), "n": strings.Repeat("n", n), "ms": []string{}}
	w.try(name+" creates a room", w.do(name, opCreateRoom, vars))
}

func (w *world) triesKind(name, kind string) {
	vars := map[string]any{"k": kind, "n": "Just us", "ms": []string{}}
	w.try(name+" creates a room", w.do(name, opCreateRoom, vars))
}

// triesUnknownRoom posts into a well-formed room id that names no room.
func (w *world) triesUnknownRoom(name, text string) {
	w.try(name+" posts", w.do(name, opSend, map[string]any{"r": ulids.New().New(), "t": text}))
}

func (w *world) triesMalformedRoomID(name, text string) {
	w.try(name+" posts", w.do(name, opSend, map[string]any{"r": "not-a-room-id", "t": text}))
}

// triesWithToken posts into the story's room with a bad credential.
func (w *world) triesWithToken(name, text, how string) {
	m := w.member(name)
	var token string
	switch how {
	case "with a malformed token":
		token = "not.a.jwt"
	case "with an expired token":
		token = w.srv.TokenTTL(w.tb, m.id, m.title, -time.Minute)
	case "with a token signed by someone else":
		var err error
		token, err = auth.Issue([]byte("someone else's secret, not the server's"), m.id, m.title, time.Hour, time.Now())
		if err != nil {
			w.tb.Fatal(err)
		}
	case "without a token":
	default:
		w.tb.Fatalf("unknown credential %q", how)
	}
	w.try(name+" posts "+how, w.srv.Do(w.tb, token, opSend, map[string]any{"r": w.requireRoom(), "t": text}))
}
