package memory_test

import (
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/presence/memory"
	"github.com/nordkapp42/nordkapp42/internal/presence/presencetest"
)

func TestContract(t *testing.T) {
	presencetest.Run(t, func(*testing.T) app.Presence { return memory.New() })
}
