package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// clusterWithin bounds creating a cluster and waiting for it to be healthy;
// redis-cli alone waits a few seconds for the nodes to join.
const clusterWithin = 60 * time.Second

// Cluster is a private Redis Cluster of three masters without replicas,
// each a Server on loopback ports. It is torn down when the test ends.
type Cluster struct {
	// Nodes are the masters.
	Nodes []*Server
}

// StartCluster starts three cluster-enabled redis-server processes, joins
// them with redis-cli --cluster create and waits for cluster_state:ok on
// every node.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	RequireBinaries(t, "redis-server", "redis-cli")
	c := &Cluster{}
	for range 3 {
		port, bus := freePort(t), freePort(t)
		s := newServer(t, port, []string{
			"--cluster-enabled", "yes",
			"--cluster-port", strconv.Itoa(bus),
			// Relative to the node's own --dir, so every node has its own.
			"--cluster-config-file", "nodes-" + strconv.Itoa(port) + ".conf",
		})
		s.start(t)
		c.Nodes = append(c.Nodes, s)
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterWithin)
	defer cancel()
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, n := range c.Nodes {
		if err := waitClusterOK(ctx, n.Addr); err != nil {
			t.Fatalf("cluster node %s: %v", n.Addr, err)
		}
	}
	return c
}

// Addrs returns the masters' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// Node returns the node listening on addr.
func (c *Cluster) Node(t testing.TB, addr string) *Server {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	t.Fatalf("no cluster node at %s", addr)
	return nil
}

// Client returns a cluster client, closed when t ends.
func (c *Cluster) Client(t testing.TB) *goredis.ClusterClient {
	t.Helper()
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// NodeClient returns a plain client of one node, closed when t ends, for
// commands whose answer is per node (PUBSUB SHARDNUMSUB, CLUSTER SETSLOT).
func (c *Cluster) NodeClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	nc := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

// Owner returns the address of the master that owns key's slot, asking the
// nodes themselves rather than a client's cached map.
func (c *Cluster) Owner(t testing.TB, key string) string {
	t.Helper()
	ctx := t.Context()
	nc := c.NodeClient(t, c.Nodes[0].Addr)
	slot, err := nc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
	}
	shards, err := nc.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER SHARDS: %v", err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start > slot || slot > r.End {
				continue
			}
			for _, n := range sh.Nodes {
				if n.Role == "master" {
					return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
				}
			}
		}
	}
	t.Fatalf("slot %d of %q has no owner", slot, key)
	return ""
}

// MoveSlot reassigns the slot of key to the master at to, the way a
// resharding tool finishes moving an empty slot: IMPORTING on the target,
// MIGRATING on the source, then SETSLOT NODE on every master. It returns the
// slot. The source drops its shard channel subscribers of the slot, sending
// them an unsolicited sunsubscribe.
func (c *Cluster) MoveSlot(t testing.TB, key, to string) int64 {
	t.Helper()
	ctx := t.Context()
	from := c.Owner(t, key)
	if from == to {
		t.Fatalf("slot of %q already belongs to %s", key, to)
	}
	src, dst := c.NodeClient(t, from), c.NodeClient(t, to)
	slot, err := src.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
	}
	srcID, err := src.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER MYID on %s: %v", from, err)
	}
	dstID, err := dst.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER MYID on %s: %v", to, err)
	}
	steps := []struct {
		node *goredis.Client
		args []any
	}{
		{dst, []any{"cluster", "setslot", slot, "importing", srcID}},
		{src, []any{"cluster", "setslot", slot, "migrating", dstID}},
		{dst, []any{"cluster", "setslot", slot, "node", dstID}},
		{src, []any{"cluster", "setslot", slot, "node", dstID}},
	}
	for _, n := range c.Nodes {
		if n.Addr != from && n.Addr != to {
			steps = append(steps, struct {
				node *goredis.Client
				args []any
			}{c.NodeClient(t, n.Addr), []any{"cluster", "setslot", slot, "node", dstID}})
		}
	}
	for _, s := range steps {
		if err := s.node.Do(ctx, s.args...).Err(); err != nil {
			t.Fatalf("%v on %s: %v", s.args, s.node.Options().Addr, err)
		}
	}
	return slot
}

// waitClusterOK polls CLUSTER INFO on addr until cluster_state is ok. Polling
// is the only way to learn it: Redis announces nothing.
func waitClusterOK(ctx context.Context, addr string) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer func() { _ = c.Close() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		last = fmt.Sprint(info, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster_state not ok: %w (last CLUSTER INFO: %s)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}
