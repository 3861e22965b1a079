package memory_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/nordkapp42/nordkapp42/internal/broker/brokertest"
	"github.com/nordkapp42/nordkapp42/internal/broker/memory"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestBroker(t *testing.T) {
	t.Parallel()
	brokertest.Run(t, func(*testing.T) realtime.Broker { return memory.New() })
}
