package redistest

// Finding redis-server on PATH and reading its version.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type serverVersion struct {
	major, minor, patch int
	valkey              bool
}

func (v serverVersion) engine() Engine {
	e := Engine{Name: "redis", Major: v.major, Minor: v.minor, Patch: v.patch}
	if v.valkey {
		e.Name = "valkey"
	}
	return e
}

func (v serverVersion) atLeast(major, minor int) bool {
	return v.major > major || (v.major == major && v.minor >= minor)
}

func (v serverVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

var (
	versionsMu sync.Mutex
	versions   = map[string]serverVersion{}
	versionRE  = regexp.MustCompile(`^(\w+) server v=(\d+)\.(\d+)\.(\d+)`)
)

// lookupServer finds redis-server and its version, or fails the test.
func lookupServer(t testing.TB) (string, serverVersion) {
	t.Helper()
	if testing.Short() {
		// go test -short is the fast tier: pure tests only, no server.
		t.Skip("needs redis-server; skipped with -short")
	}
	name := redisServerBin
	if env := os.Getenv("REDISTEST_SERVER"); env != "" {
		name = env
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		if name == "redis-server" {
			t.Fatal(MissingServerMessage)
		}
		t.Fatalf("%s (looked for %q)", MissingServerMessage, name)
	}
	versionsMu.Lock()
	defer versionsMu.Unlock()
	if v, ok := versions[bin]; ok {
		return bin, v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: %s --version: %v: %s", bin, err, out)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("redistest: cannot read the version in %q", out)
	}
	var v serverVersion
	v.valkey = strings.EqualFold(m[1], "valkey")
	v.major, _ = strconv.Atoi(m[2])
	v.minor, _ = strconv.Atoi(m[3])
	v.patch, _ = strconv.Atoi(m[4])
	versions[bin] = v
	return bin, v
}

// ServerVersion returns the major, minor and patch version of the redis-server that Start
// uses, or fails the test if there is none.
func ServerVersion(t testing.TB) (major, minor, patch int) {
	t.Helper()
	_, v := lookupServer(t)
	return v.major, v.minor, v.patch
}
