package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// TestDemo runs the binary as a first-time user would, with --demo and no
// configuration, and follows what it prints.
func TestDemo(t *testing.T) {
	t.Parallel()
	srv := e2e.Start(t, e2e.Options{OmitServe: true, DataDirSecret: true, Args: []string{"--demo"}})

	checkDemoOutput(t, srv)

	// A second start on the same data directory finds the demo data and
	// seeds nothing more.
	srv.Restart(t)
	tokens := checkDemoOutput(t, srv)
	var out struct {
		SearchRooms struct {
			Edges []struct{ Node struct{ Name, Kind string } }
		}
	}
	srv.Do(t, tokens["alice"], `{ searchRooms(query: "General") { edges { node { name kind } } } }`, nil).Decode(t, &out)
	if n := len(out.SearchRooms.Edges); n != 1 {
		t.Errorf("%d rooms named General after a restart, want 1: %+v", n, out.SearchRooms.Edges)
	}
}

// checkDemoOutput checks what the demo printed: the endpoint, the
// playground, a working token for each demo member and a curl example that
// works as printed. It returns the tokens by member id.
func checkDemoOutput(t *testing.T, srv *e2e.Server) map[string]string {
	t.Helper()
	curlExample := regexp.MustCompile(`curl -s (\S+) -H 'Content-Type: application/json' \\\s+-H 'Authorization: Bearer (\S+)' \\\s+-d '([^']+)'`)
	// The curl example comes last.
	stdout := srv.WaitStdout(t, curlExample.MatchString)
	for _, want := range []string{
		"GraphQL endpoint: " + srv.URL + "/graphql",
		"Playground:       " + srv.URL + "/playground",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}

	tokens := map[string]string{}
	line := regexp.MustCompile(`(?m)^\s+(alice|bob|carol)\s+(\S+)$`)
	for _, m := range line.FindAllStringSubmatch(stdout, -1) {
		tokens[m[1]] = m[2]
	}
	names := map[string]string{"alice": "Alice", "bob": "Bob", "carol": "Carol"}
	for id, name := range names {
		token, ok := tokens[id]
		if !ok {
			t.Errorf("demo output has no token for %s:\n%s", id, stdout)
			continue
		}
		var me struct{ Me struct{ ID, Name string } }
		srv.Do(t, token, `{ me { id name } }`, nil).Decode(t, &me)
		if me.Me.ID != id || me.Me.Name != name {
			t.Errorf("the token printed for %s is for %+v", id, me.Me)
		}
	}

	// The curl example: its URL, its bearer token and its JSON body, sent
	// as printed.
	curl := curlExample.FindStringSubmatch(stdout)
	if curl[1] != srv.URL+"/graphql" {
		t.Errorf("curl example posts to %s, want %s/graphql", curl[1], srv.URL)
	}
	if curl[2] != tokens["alice"] {
		t.Errorf("curl example does not use alice's token")
	}
	r := srv.Post(t, curl[2], "application/json", []byte(curl[3]))
	var sent struct {
		SendMessage struct {
			Text   string
			Author struct{ Name string }
		}
	}
	r.Decode(t, &sent)
	if sent.SendMessage.Text != "Hello Bob!" || sent.SendMessage.Author.Name != "Alice" {
		t.Errorf("the curl example sent %+v", sent.SendMessage)
	}
	return tokens
}

// TestTokenCommand: `nordkapp42 token` signs with the data directory's
// secret, the very one a server on that directory verifies with when it is
// given none.
func TestTokenCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := func(sub, name, ttl string) string {
		stdout, _ := e2e.Run(t, "token", "--data-dir", dir, "--sub", sub, "--name", name, "--ttl", ttl)
		return strings.TrimSpace(stdout)
	}
	// Before any server: the command creates the secret.
	valid := token("tok-x", "X", "1h")

	info, err := os.Stat(filepath.Join(dir, auth.SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("secret file mode %o, want 600", mode)
	}

	srv := e2e.Start(t, e2e.Options{DataDir: dir, DataDirSecret: true})
	var me struct{ Me struct{ ID, Name string } }
	srv.Do(t, valid, `{ me { id name } }`, nil).Decode(t, &me)
	if me.Me.ID != "tok-x" || me.Me.Name != "X" {
		t.Errorf("me = %+v, want tok-x named X", me.Me)
	}

	// With the server running: same secret, and an expired token is
	// refused as expired.
	expired := token("tok-y", "Y", "-1h")
	r := srv.Do(t, expired, `{ me { id } }`, nil)
	wantError(t, r, "UNAUTHENTICATED", []any{"me"}, "")
	if len(r.Errors) == 1 && r.Errors[0].Message != "token expired" {
		t.Errorf("message %q, want %q", r.Errors[0].Message, "token expired")
	}

	// The token carries the TTL asked for.
	if left := time.Until(expiry(t, valid)); left < 59*time.Minute || left > time.Hour {
		t.Errorf("token with --ttl 1h expires %v from now", left)
	}
}

// expiry reads the exp claim of a token without verifying it.
func expiry(t *testing.T, token string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", token, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Exp int64 }
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return time.Unix(claims.Exp, 0)
}
