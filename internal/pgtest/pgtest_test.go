package pgtest_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/pgtest"
)

func TestPrivateServerStopsAndStartsAgain(t *testing.T) {
	s := pgtest.Start(t)
	host := strings.TrimPrefix(strings.Split(s.URL, "/test")[0], "postgres://postgres@")
	dial := func() error {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("server not reachable after Start: %v", err)
	}
	s.Stop(t)
	if err := dial(); err == nil {
		t.Fatal("server still reachable after Stop")
	}
	s.StartAgain(t)
	if err := dial(); err != nil {
		t.Fatalf("server not reachable after StartAgain: %v", err)
	}
}
