package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// demoMembers are seeded by --demo.
var demoMembers = []struct{ id, name string }{{"alice", "Alice"}, {"bob", "Bob"}, {"carol", "Carol"}}

// demoTokenTTL is how long the printed demo tokens stay valid.
const demoTokenTTL = 24 * time.Hour

// seedDemo creates the demo members, a public group and a chat (once: a
// restart finds them and adds nothing), and prints how to try the server.
func seedDemo(ctx context.Context, svc *app.Service, secret []byte, addr net.Addr, out io.Writer) error {
	if len(secret) == 0 {
		return fmt.Errorf("demo: needs an HS256 secret to sign demo tokens (unset --jwt-public-key or set --jwt-secret)")
	}
	for _, m := range demoMembers {
		if err := svc.EnsureMember(ctx, m.id, m.name); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	rooms, err := svc.SearchRooms(ctx, "alice", "General", app.PageArgs{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if len(rooms.Items) == 0 {
		if _, err := svc.CreateRoom(ctx, "alice", domain.KindPublicGroup, "General", []string{"bob", "carol"}); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	chat, err := svc.OpenChat(ctx, "alice", "bob")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	base := "http://" + hostPort(addr)
	fmt.Fprintf(out, "\nnordkapp42 demo is running.\n\n")
	fmt.Fprintf(out, "  GraphQL endpoint: %s/graphql  (WebSocket: ws://%s/graphql, SSE: POST with Accept: text/event-stream)\n", base, hostPort(addr))
	fmt.Fprintf(out, "  Playground:       %s/playground\n\n", base)
	fmt.Fprintf(out, "Tokens (valid %s; send as Authorization: Bearer <token>):\n", demoTokenTTL)
	var aliceToken string
	for _, m := range demoMembers {
		token, err := auth.Issue(secret, m.id, m.name, demoTokenTTL, time.Now())
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if m.id == "alice" {
			aliceToken = token
		}
		fmt.Fprintf(out, "  %-6s %s\n", m.id, token)
	}
	fmt.Fprintf(out, "\nTry it (alice writes to bob in their chat):\n\n")
	fmt.Fprintf(out, "  curl -s %s/graphql -H 'Content-Type: application/json' \\\n    -H 'Authorization: Bearer %s' \\\n", base, aliceToken)
	fmt.Fprintf(out, "    -d '{\"query\":\"mutation { sendMessage(input: {roomId: \\\"%s\\\", text: \\\"Hello Bob!\\\"}) { id text createdAt author { name } } }\"}'\n\n", chat.ID)
	return nil
}

// hostPort names a listener's address the way a local client reaches it.
func hostPort(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
	}
	return addr.String()
}
