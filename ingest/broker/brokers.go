package broker

import (
	"context"
	"sync"
	"time"

	"github.com/strata-log/strata/meta"
)

// brokersMaxAge is how long the live-broker list is reused: Metadata and
// DescribeCluster are asked often, and broker membership changes rarely.
const brokersMaxAge = time.Second

// liveBrokers caches the registered brokers from etcd.
type liveBrokers struct {
	mu      sync.Mutex
	list    []meta.BrokerInfo
	fetched time.Time
}

// brokers returns the live brokers, from etcd at most once per
// brokersMaxAge. On an etcd error the last list is returned with it.
func (b *Broker) brokers(ctx context.Context) ([]meta.BrokerInfo, error) {
	c := &b.live
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && time.Since(c.fetched) < brokersMaxAge {
		return c.list, nil
	}
	list, err := b.meta.Brokers(ctx)
	if err != nil {
		return c.list, err
	}
	c.list, c.fetched = list, time.Now()
	return list, nil
}
