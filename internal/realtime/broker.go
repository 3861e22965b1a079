// Package realtime is the per-node hub of nordkapp42: it multiplexes many local
// subscribers onto one upstream broker subscription per topic, gives each
// subscriber a bounded queue, and ends a subscriber that falls behind instead
// of letting it block anybody else.
package realtime

import (
	"context"
	"strings"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Broker carries payloads published on a topic to the nodes subscribed to it.
//
// Guarantees: payloads published by one caller on one topic are delivered in
// the order they were published; delivery is at most once (a payload can be
// lost, for example while a network broker reconnects), so subscribers that
// need every event detect gaps by sequence and read the store. The hub makes
// at most one Subscribe call per topic at a time on a node.
type Broker interface {
	// Publish sends payload to every current subscriber of topic. It returns
	// once the broker has accepted the payload, not when it was delivered.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe starts delivering the payloads published on topic to h, one
	// call at a time and in order, until unsubscribe is called. Once Subscribe
	// has returned, every later Publish on the topic is delivered (barring
	// loss, which the broker reports with h.Resync when it knows of it).
	Subscribe(ctx context.Context, topic string, h Handler) (unsubscribe func(), err error)
}

// Handler receives what a broker delivers on one topic. Its methods are
// called one at a time and must not block.
type Handler interface {
	// Deliver is called with each payload; it must not keep payload after it
	// returns.
	Deliver(payload []byte)
	// Resync is called when payloads of the topic may have been lost, for
	// example after the broker's connection was re-established; consumers that
	// need every event read the store.
	Resync()
}

// DeliverFunc is a Handler for consumers that need no Resync.
type DeliverFunc func(payload []byte)

// Deliver calls f.
func (f DeliverFunc) Deliver(payload []byte) { f(payload) }

// Resync does nothing.
func (DeliverFunc) Resync() {}

// Envelope is what travels on a topic: exactly one of Event, Signal and
// Notification is set. The hub also hands its local subscribers envelopes
// with only Resync set, never published: the broker may have lost envelopes
// of that topic.
type Envelope struct {
	Event        *domain.Event        `json:"e,omitempty"`
	Signal       *domain.Signal       `json:"s,omitempty"`
	Notification *domain.Notification `json:"n,omitempty"`
	Resync       string               `json:"-"`
}

// RoomOfTopic returns the room id of a room topic.
func RoomOfTopic(topic string) (string, bool) {
	return strings.CutPrefix(topic, roomPrefix)
}

// Topic names.
const (
	roomPrefix     = "room:"
	memberPrefix   = "member:"
	activityPrefix = "activity:"
)

// RoomTopic carries the durable events of one room.
func RoomTopic(roomID string) string { return roomPrefix + roomID }

// MemberTopic carries what concerns one member wherever it happens: being
// added to or removed from a room, their own read pointer moving.
func MemberTopic(memberID string) string { return memberPrefix + memberID }

// ActivityTopic carries the ephemeral signals of one room.
func ActivityTopic(roomID string) string { return activityPrefix + roomID }
