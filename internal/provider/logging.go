package provider

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	"github.com/redis/go-redis/v9"
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
// context's fields in place (see executor in resource_cluster.go).
var redisLogMu sync.Mutex

// routeRedisLogs installs the logger once per process.
func routeRedisLogs() {
	redisLoggerOnce.Do(func() { redis.SetLogger(tflogRedisLogger{}) })
}
