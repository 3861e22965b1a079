package redis_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/nordkapp42/nordkapp42/internal/broker/brokertest"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/redistest"
)

// TestCluster runs the cluster broker's tests against one private
// three-master cluster, which takes a few seconds to form.
func TestCluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t)
	client := cluster.Client(t)

	t.Run("Contract", func(t *testing.T) {
		brokertest.Run(t, func(t *testing.T) realtime.Broker { return newClusterBroker(t, client) })
	})

	// The subtests run one after another: the last one restarts a node.
	t.Run("OneRedisSubscriptionPerTopic", func(t *testing.T) {
		topic := redistest.Prefix("broker") + "room:1"
		owner := cluster.NodeClient(t, cluster.Owner(t, topic))
		numSub := func(ctx context.Context) (int64, error) {
			// Shard channels are counted by the node that owns the slot.
			counts, err := owner.PubSubShardNumSub(ctx, topic).Result()
			return counts[topic], err
		}
		checkSharedSubscription(t, newClusterBroker(t, client), topic, numSub)
	})

	t.Run("TopicsSpreadOverMasters", func(t *testing.T) {
		b := newClusterBroker(t, client)
		prefix := redistest.Prefix("broker")
		owners := map[string]bool{}
		for i := 0; len(owners) < len(cluster.Nodes); i++ {
			if i == 1000 {
				t.Fatalf("1000 topics landed on only %d masters", len(owners))
			}
			topic := prefix + "room:" + strconv.Itoa(i)
			owner := cluster.Owner(t, topic)
			if owners[owner] {
				continue
			}
			owners[owner] = true
			r := subscribe(t, b, topic)
			publish(t, b, topic, "hello")
			r.expectPayload(t, "hello")
			n, err := cluster.NodeClient(t, owner).PubSubShardNumSub(t.Context(), topic).Result()
			if err != nil || n[topic] != 1 {
				t.Errorf("PUBSUB SHARDNUMSUB %s on its owner %s = %v, %v; want 1", topic, owner, n, err)
			}
		}
	})

	t.Run("SlotMovesToAnotherMaster", func(t *testing.T) {
		b := newClusterBroker(t, client)
		// The hash tag puts both topics in one slot.
		tag := "{" + redistest.Prefix("broker") + "room}"
		topic, later := tag+"1", tag+"2"
		r := subscribe(t, b, topic)
		publish(t, b, topic, "before")
		r.expectPayload(t, "before")

		// A second node whose client learnt the slot map before the move.
		stale := cluster.Client(t)
		staleBroker := newClusterBroker(t, stale)
		from := cluster.Owner(t, topic)
		if node, err := stale.MasterForKey(t.Context(), later); err != nil || node.Options().Addr != from {
			t.Fatalf("stale client's owner of %s = %v, %v; want %s", later, node, err, from)
		}

		to := cluster.Nodes[0].Addr
		if to == from {
			to = cluster.Nodes[1].Addr
		}
		cluster.MoveSlot(t, topic, to)
		// The old owner dropped the subscription; the broker subscribes on the
		// new owner and reports the gap.
		r.expectResync(t)
		n, err := cluster.NodeClient(t, to).PubSubShardNumSub(t.Context(), topic).Result()
		if err != nil || n[topic] != 1 {
			t.Errorf("PUBSUB SHARDNUMSUB %s on the new owner = %v, %v; want 1", topic, n, err)
		}
		publish(t, b, topic, "after")
		r.expectPayload(t, "after")

		// The stale node's SSUBSCRIBE goes to the old owner, which answers
		// MOVED; the broker follows it.
		if node, err := stale.MasterForKey(t.Context(), later); err != nil || node.Options().Addr != from {
			t.Fatalf("stale client's owner of %s after the move = %v, %v; want still %s", later, node, err, from)
		}
		r2 := subscribe(t, staleBroker, later)
		publish(t, b, later, "to the new owner")
		r2.expectPayload(t, "to the new owner")
		for addr, want := range map[string]int64{from: 0, to: 1} {
			n, err := cluster.NodeClient(t, addr).PubSubShardNumSub(t.Context(), later).Result()
			if err != nil || n[later] != want {
				t.Errorf("PUBSUB SHARDNUMSUB %s on %s = %v, %v; want %d", later, addr, n, err, want)
			}
		}
	})

	t.Run("ResyncAfterNodeRestart", func(t *testing.T) {
		b := newClusterBroker(t, client)
		topic := redistest.Prefix("broker") + "room:1"
		r := subscribe(t, b, topic)
		publish(t, b, topic, "before")
		r.expectPayload(t, "before")

		node := cluster.Node(t, cluster.Owner(t, topic))
		node.Kill(t)
		node.Restart(t)
		r.expectResync(t)

		publish(t, b, topic, "after")
		r.expectPayload(t, "after")
	})
}
