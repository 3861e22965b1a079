package stream

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Subprotocol names.
const (
	// protocolTransportWS is spoken by the graphql-ws npm client:
	// https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md
	protocolTransportWS = "graphql-transport-ws"
	// protocolLegacy is spoken by Apollo's subscriptions-transport-ws:
	// https://github.com/apollographql/subscriptions-transport-ws/blob/master/PROTOCOL.md
	protocolLegacy = "graphql-ws"
)

// Message types that both subprotocols share, or that only one of them has.
const (
	msgConnectionInit      = "connection_init"
	msgConnectionAck       = "connection_ack"
	msgConnectionError     = "connection_error"     // legacy only
	msgConnectionTerminate = "connection_terminate" // legacy only
	msgError               = "error"
	msgComplete            = "complete"
	msgPing                = "ping" // graphql-transport-ws only
	msgPong                = "pong" // graphql-transport-ws only
)

// Close codes of graphql-transport-ws, used for both subprotocols.
const (
	closeBadRequest      ws.StatusCode = 4400
	closeUnauthorized    ws.StatusCode = 4401
	closeForbidden       ws.StatusCode = 4403
	closeInitTimeout     ws.StatusCode = 4408
	closeSubscriberTaken ws.StatusCode = 4409
	closeTooManyInits    ws.StatusCode = 4429
)

// Close reasons with fixed text.
const (
	reasonUnauthorized   = "Unauthorized"
	reasonInitTimeout    = "Connection initialisation timeout"
	reasonTooManyInits   = "Too many initialisation requests"
	reasonTokenExpired   = "token expired"
	reasonServiceRestart = "service restart"
	reasonInvalidMessage = "Invalid message received: "

	// maxCloseReason is what fits in a close frame: 125 bytes of control
	// payload minus the 2-byte code.
	maxCloseReason = 123
)

// dialect is what differs between the two subprotocols.
type dialect struct {
	legacy    bool
	subscribe string // client starts an operation
	stop      string // client stops an operation
	next      string // server sends one result
	keepAlive []byte // server keep-alive frame
}

var (
	transportWS = dialect{
		subscribe: "subscribe",
		stop:      "complete",
		next:      "next",
		keepAlive: []byte(`{"type":"ping"}`),
	}
	legacyWS = dialect{
		legacy:    true,
		subscribe: "start",
		stop:      "stop",
		next:      "data",
		keepAlive: []byte(`{"type":"ka"}`),
	}
)

// dialectFor returns the dialect of the negotiated subprotocol. No subprotocol
// means a client that predates the header: it gets the legacy protocol, as
// with gqlgen's own transport.
func dialectFor(subprotocol string) dialect {
	if strings.EqualFold(subprotocol, protocolTransportWS) {
		return transportWS
	}
	return legacyWS
}

// errorPayload encodes the payload of an error message. graphql-transport-ws
// wants the array of GraphQL errors. The legacy protocol documents a single
// error object while Apollo's client also accepts {errors: [...]}: the object
// carries the first message (for clients that read payload.message) and every
// error (Apollo's formatErrors prefers payload.errors).
func (d dialect) errorPayload(errs gqlerror.List) (json.RawMessage, error) {
	if !d.legacy {
		return json.Marshal(errs)
	}
	legacy := struct {
		Message string        `json:"message"`
		Errors  gqlerror.List `json:"errors"`
	}{Errors: errs}
	if len(errs) > 0 {
		legacy.Message = errs[0].Message
	}
	return json.Marshal(legacy)
}

// inbound is a message from the client.
type inbound struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// hasPayload reports whether the message carried a payload other than null.
func (m inbound) hasPayload() bool {
	return len(m.Payload) > 0 && string(m.Payload) != "null"
}

// outbound is a message to the client.
type outbound struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// closeReason cuts reason to what fits in a close frame, on a UTF-8 boundary.
func closeReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}
