package provider

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var redisLoggerOnce sync.Once

// tflogRedisLogger sends go-redis' own messages (dial failures, pool
// notices) through tflog instead of the provider's stderr. go-redis passes
// the command's context, which carries the request's password mask.
type tflogRedisLogger struct{}

func (tflogRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	redisLogMu.Lock()
	defer redisLogMu.Unlock()
	tflog.Debug(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// redisLogMu serializes go-redis log lines: tflog's masking mutates the
// context's fields in place (see executor below).
var redisLogMu sync.Mutex

// routeRedisLogs installs the logger once per process.
func routeRedisLogs() {
	redisLoggerOnce.Do(func() { redis.SetLogger(tflogRedisLogger{}) })
}

// executor runs cluster changes over the provider's pool, logging progress
// through tflog.
func (d *providerData) executor() *cluster.Executor {
	// tflog's masking rewrites the context's field map in place, so
	// concurrent log calls on one context race: serialize them.
	var mu sync.Mutex
	return &cluster.Executor{
		Pool:       d.pool,
		Departures: d.departures,
		Info: func(ctx context.Context, msg string, f map[string]any) {
			mu.Lock()
			defer mu.Unlock()
			tflog.Info(ctx, msg, f)
		},
		Debug: func(ctx context.Context, msg string, f map[string]any) {
			mu.Lock()
			defer mu.Unlock()
			tflog.Debug(ctx, msg, f)
		},
	}
}

// redact is an error's text for a diagnostic (see describe), without the
// configured password.
func (d *providerData) redact(err error) string {
	return cluster.Redact(describe(err), d.password)
}
