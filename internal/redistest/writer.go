package redistest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Writer sets unique keys through a cluster client until stopped, and keeps
// those the cluster acknowledged: what a test checks no apply loses.
type Writer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  map[string]string
}

// StartWriter starts a Writer of keys "prefix:N" through a cluster client
// seeded with seeds. It stops by itself after 5 minutes.
func StartWriter(t testing.TB, seeds []*Node, prefix string) *Writer {
	c := ClusterClient(t, seeds)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	w := &Writer{cancel: cancel, acked: map[string]string{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		// About 2,000 writes a second: enough to cross every step of an
		// apply, few enough that a long run can read them all back.
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			<-tick.C
			k, v := fmt.Sprintf("%s:%d", prefix, i), fmt.Sprintf("v%d", i)
			err := c.Set(ctx, k, v, 0).Err()
			if err == nil {
				w.mu.Lock()
				w.acked[k] = v
				w.mu.Unlock()
				continue
			}
			if ctx.Err() == nil && err != redis.Nil {
				// CLUSTERDOWN, TRYAGAIN or a reset seed: not acknowledged.
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return w
}

// Stop stops the writer and returns the keys the cluster acknowledged.
func (w *Writer) Stop() map[string]string {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}
