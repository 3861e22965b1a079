// Package ulids makes ULIDs: 128-bit identifiers that sort by creation time,
// unique across nodes without coordination.
package ulids

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Generator makes ULIDs that are strictly increasing within one process, even
// within one millisecond. It is safe for concurrent use.
type Generator struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

// New returns a generator seeded from crypto/rand.
func New() *Generator {
	return &Generator{entropy: ulid.Monotonic(rand.Reader, 0)}
}

// New returns a new ULID as its 26-character string.
func (g *Generator) New() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ulid.MustNew(ulid.Timestamp(time.Now()), g.entropy).String()
}

// Valid reports whether s is a well-formed ULID string.
func Valid(s string) bool {
	_, err := ulid.ParseStrict(s)
	return err == nil
}

// Time returns when a ULID was made, and false for a malformed one.
func Time(s string) (time.Time, bool) {
	id, err := ulid.ParseStrict(s)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(id.Time()), true
}
