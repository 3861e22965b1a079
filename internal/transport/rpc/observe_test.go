package rpc_test

import (
	"sync"
	"testing"

	"connectrpc.com/connect"

	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
	"github.com/nordkapp42/nordkapp42/internal/transport/rpc"
)

// callCounter is a Recorder that counts procedure/code pairs.
type callCounter struct {
	mu    sync.Mutex
	count map[string]int
}

func (c *callCounter) GRPCRequest(procedure, code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[procedure+" "+code]++
}

func (c *callCounter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count[key]
}

// TestMetricsCountCallsByProcedureAndCode: successes, domain errors and
// refused credentials are all counted with their status code.
func TestMetricsCountCallsByProcedureAndCode(t *testing.T) {
	t.Parallel()
	rec := &callCounter{count: map[string]int{}}
	e := newEndpoint(t, rpc.Options{Metrics: rec})
	const get = "/nordkapp42.v1.MemberService/GetMember"
	e.member(t, "alice")
	if _, err := e.members.GetMember(t.Context(), connect.NewRequest(&pb.GetMemberRequest{MemberId: "alice"})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.members.GetMember(t.Context(), connect.NewRequest(&pb.GetMemberRequest{MemberId: "nobody"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("GetMember(nobody) = %v, want NotFound", err)
	}
	anonymous, _, _, _ := e.clients("")
	if _, err := anonymous.GetMember(t.Context(), connect.NewRequest(&pb.GetMemberRequest{MemberId: "alice"})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("GetMember without a token = %v, want Unauthenticated", err)
	}
	for key, want := range map[string]int{get + " ok": 1, get + " not_found": 1, get + " unauthenticated": 1} {
		if got := rec.get(key); got != want {
			t.Errorf("%s counted %d times, want %d (all: %v)", key, got, want, rec.count)
		}
	}
}
