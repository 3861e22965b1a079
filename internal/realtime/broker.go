// Package realtime is the per-node hub of nordkapp42: it multiplexes many local
// subscribers onto one upstream broker subscription per topic, gives each
// subscriber a bounded queue, and ends a subscriber that falls behind instead
// of letting it block anybody else.
package realtime

import (
	"context"

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
	// Subscribe starts delivering the payloads published on topic to deliver,
	// one call at a time and in order, until unsubscribe is called; deliver must
	// not block and must not keep payload after it returns. Once Subscribe has
	// returned, every later Publish on the topic is delivered (barring loss).
	Subscribe(ctx context.Context, topic string, deliver func(payload []byte)) (unsubscribe func(), err error)
}

// Envelope is what travels on a topic: exactly one of its fields is set.
type Envelope struct {
	Event  *domain.Event  `json:"e,omitempty"`
	Signal *domain.Signal `json:"s,omitempty"`
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
