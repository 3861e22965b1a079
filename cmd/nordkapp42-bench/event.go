package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The texts the tool sends. A measured message carries its number and the
// unix nanos at which its send request started, so that any process on the
// machine computes its latency at read from the same clock; a probe only
// proves that a subscription is live.
const (
	measuredPrefix = "m "
	probePrefix    = "probe "
)

// measuredText returns the text of measured message n sent at start.
func measuredText(n int, start time.Time) string {
	return fmt.Sprintf("%s%d %d", measuredPrefix, n, start.UnixNano())
}

// parseMeasured returns the send start of a measured message's text.
func parseMeasured(text string) (sentNanos int64, ok bool) {
	rest, found := strings.CutPrefix(text, measuredPrefix)
	if !found {
		return 0, false
	}
	_, ns, found := strings.Cut(rest, " ")
	if !found {
		return 0, false
	}
	v, err := strconv.ParseInt(ns, 10, 64)
	return v, err == nil
}

// roomEventsQuery is what every subscriber subscribes to: the viewer-free
// fields a chat client shows for a new message.
const roomEventsQuery = `subscription($r: ID!, $a: Cursor) { roomEvents(roomId: $r, after: $a) { cursor seq type message { id text createdAt author { id name } } } }`

// event is what a subscriber needs of one result.
type event struct {
	seq  int64
	text string
	err  string // the result's errors, when it has any
}

var (
	seqKey    = []byte(`"seq":`)
	textKey   = []byte(`"text":"`)
	errorsKey = []byte(`"errors"`)
)

// parseEvent reads a roomEvents result ({"data":{"roomEvents":{…}}}) by
// scanning for its two keys instead of decoding it: the tool reads up to
// hundreds of thousands of results a second on the cores the server uses, and
// neither key can occur unescaped inside a string value. Results with errors
// are decoded in full for their message.
func parseEvent(payload []byte) (event, error) {
	if bytes.Contains(payload, errorsKey) {
		// A bare result (SSE) or one inside a WebSocket frame.
		var r struct {
			Errors  []gqlError `json:"errors"`
			Payload struct {
				Errors []gqlError `json:"errors"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(payload, &r); err == nil {
			if errs := append(r.Errors, r.Payload.Errors...); len(errs) > 0 {
				return event{err: errs[0].String()}, nil
			}
		}
	}
	i := bytes.Index(payload, seqKey)
	if i < 0 {
		return event{}, fmt.Errorf("result without seq: %.200s", payload)
	}
	rest := payload[i+len(seqKey):]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	seq, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	if err != nil {
		return event{}, fmt.Errorf("result with a bad seq: %.200s", payload)
	}
	ev := event{seq: seq}
	if j := bytes.Index(payload, textKey); j >= 0 {
		t := payload[j+len(textKey):]
		if k := bytes.IndexByte(t, '"'); k >= 0 {
			ev.text = string(t[:k])
		}
	}
	return ev, nil
}

// gqlError is one entry of a GraphQL errors list.
type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

func (e gqlError) String() string {
	if e.Extensions.Code == "" {
		return e.Message
	}
	return e.Extensions.Code + ": " + e.Message
}
