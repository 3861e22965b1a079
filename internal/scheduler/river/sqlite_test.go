package river

import (
	"context"
	"path/filepath"
	"testing"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) opener {
		path := filepath.Join(t.TempDir(), "nordkapp42.db")
		return func(t *testing.T, fire FireFunc) *Scheduler {
			t.Helper()
			s, err := NewSQLite(context.Background(), path, fire, testOptions(t))
			if err != nil {
				t.Fatalf("NewSQLite: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
	})
}
