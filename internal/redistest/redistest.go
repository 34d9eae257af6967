// Package redistest starts real redis-server processes for tests: each node on a free loopback
// port, with a password and a short cluster-node-timeout, in its own directory. Nodes can be
// killed with SIGKILL, restarted with their nodes.conf (same node ID), wiped (new node ID, no
// data) and filled with keys. Every process is killed and every directory removed when the test
// ends; on Linux the kernel also kills the servers if the test binary dies.
//
// Nodes can serve TLS only (Options.TLS, with a CA and certificates NewTLSFiles generates; cluster
// bus and replication over TLS too), announce other addresses (Options.NodeArgs) and have ACL
// users besides the default one (Options.Users). The harness' own clients follow: Client,
// ClusterClient and the readiness check use TLS with the client certificate when the nodes do.
//
// Tests in several packages may run at the same time as separate processes: ports are drawn at
// random from 20000-29999 (cluster bus: port+10000), checked by binding them, and a start that
// loses the race for its port is retried on another.
package redistest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultPassword is the requirepass and masterauth of nodes started without Options.Password.
const DefaultPassword = "redistest-Secret-9f3k"

// DefaultNodeTimeout is the cluster-node-timeout of nodes started without Options.NodeTimeout.
const DefaultNodeTimeout = time.Second

// MissingServerMessage is the failure reported when redis-server cannot be found.
const MissingServerMessage = "redis-server not found on PATH: install it (apt-get install -y redis-server)"

const (
	minPort       = 20000
	maxPort       = 29999 // inclusive; the cluster bus uses port+10000
	busOffset     = 10000
	startAttempts = 10
	readyTimeout  = 10 * time.Second
	killTimeout   = 10 * time.Second
	pollInterval  = 10 * time.Millisecond
	cmdTimeout    = 5 * time.Second
	logFileName   = "redis.log"
	stdioFileName = "stdio.log"
)

// redisServerBin is the server binary looked up on PATH; tests replace it. The environment
// variable REDISTEST_SERVER, when set, takes precedence.
var redisServerBin = "redis-server"

// testHookBeforeSpawn, when set, runs between choosing a node's address and starting it.
var testHookBeforeSpawn func(ip string, port int)

// Options configures the nodes started by Start. The zero value is ready to use.
type Options struct {
	// Password is requirepass and masterauth; default DefaultPassword.
	Password string
	// NodeTimeout is cluster-node-timeout; default DefaultNodeTimeout (1 s). Rounded to ms.
	NodeTimeout time.Duration
	// ClusterEnabled defaults to true; false starts plain (non-cluster) servers.
	ClusterEnabled *bool
	// DistinctHosts binds each node to its own loopback address 127.0.0.X (X in 2..254, drawn
	// at random, never shared by two live nodes of this process) with --bind-source-addr X, so
	// each node looks like a separate host; otherwise all nodes bind 127.0.0.1. Redis 6 lacks
	// bind-source-addr: the node announces X instead (cluster-announce-ip, replica-announce-ip).
	DistinctHosts bool
	// ExtraArgs are appended to the redis-server command line (e.g. "--cluster-replica-validity-factor", "0").
	ExtraArgs []string
	// NodeArgs, when set, returns more arguments for each node from its address (for example
	// "--cluster-announce-ip" with an address of the node's own). They follow ExtraArgs.
	NodeArgs func(ip string, port int) []string

	// TLS, when set, makes the nodes serve TLS only: --port 0, --tls-port on the node's port,
	// --tls-cluster yes and --tls-replication yes, with the certificates of TLS (see
	// NewTLSFiles). Client, ClusterClient and the readiness check then use TLS too, with the
	// client certificate.
	TLS *TLSFiles
	// TLSAuthClients is tls-auth-clients ("yes", "no" or "optional"); "" keeps the server
	// default, yes: clients must present a certificate the CA signed.
	TLSAuthClients string

	// Users are ACL rules, one per user, passed as --user (e.g. "terraform on >pw -@all
	// +cluster|info"; words are split on spaces, so passwords cannot contain any). The default
	// user keeps requirepass: the harness, replication and the cluster bus use it.
	Users []string

	// ConfigFile starts each node from a config file (redis.conf in its directory, empty at
	// first; the command line adds the rest), so CONFIG REWRITE can persist settings and ACL
	// users there. Without it the nodes have no config file.
	ConfigFile bool
}

// Bool returns a pointer to v, for Options.ClusterEnabled.
func Bool(v bool) *bool { return &v }

func (o Options) withDefaults() Options {
	if o.Password == "" {
		o.Password = DefaultPassword
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = DefaultNodeTimeout
	}
	if o.ClusterEnabled == nil {
		o.ClusterEnabled = Bool(true)
	}
	return o
}

// Node is one redis-server process started by Start. Its address and directory never change,
// across Kill, Restart and Wipe.
type Node struct {
	bin      string
	version  serverVersion
	opts     Options
	ip       string
	port     int
	dir      string
	distinct bool
	netns    string // the network namespace it runs in (StartNet), "" for the host's

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current process has exited
	client *redis.Client
}

// Addr returns "ip:port".
func (n *Node) Addr() string { return net.JoinHostPort(n.ip, strconv.Itoa(n.port)) }

// String returns Addr.
func (n *Node) String() string { return n.Addr() }

// IP returns the address the node binds, 127.0.0.1 unless DistinctHosts.
func (n *Node) IP() string { return n.ip }

// Port returns the client port; the cluster bus listens on Port()+10000.
func (n *Node) Port() int { return n.port }

// BusPort returns the cluster bus port, Port()+10000.
func (n *Node) BusPort() int { return n.port + busOffset }

// Dir returns the node's working directory (nodes.conf, dump.rdb, redis.log).
func (n *Node) Dir() string { return n.dir }

// LogFile returns the path of the node's log file.
func (n *Node) LogFile() string { return filepath.Join(n.dir, logFileName) }

// Password returns the node's requirepass.
func (n *Node) Password() string { return n.opts.Password }

// TLS returns the node's certificates, nil when it serves plain TCP.
func (n *Node) TLS() *TLSFiles { return n.opts.TLS }

// ClusterEnabled reports whether the node runs in cluster mode.
func (n *Node) ClusterEnabled() bool { return *n.opts.ClusterEnabled }

// Pid returns the process ID of the running server, or 0 when it is not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil || !isOpen(n.done) {
		return 0
	}
	return n.cmd.Process.Pid
}

// Running reports whether the node's process is alive (it may not answer yet).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.done != nil && isOpen(n.done)
}

func isOpen(ch chan struct{}) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

// Client returns the node's single-node client (NewClient). It is cached until the node is
// killed (Kill, Restart, Wipe close it) and closed when the test ends: call Client() again
// after those rather than keeping the old one. (go-redis stops dialing for up to 1 s once a
// pool has seen PoolSize failed dials, so a client that watched the node die could keep
// failing after the node is back.)
func (n *Node) Client() *redis.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.client == nil {
		n.client = redis.NewClient(clientOptions(n.Addr(), n.opts.Password, n.opts.TLS))
	}
	return n.client
}

// NewClient returns a client for one address: password, RESP2, DialTimeout 1 s, a single
// dial attempt, no command retries, no CLIENT SETINFO, no maintenance notifications. The
// caller closes it.
func NewClient(addr, password string) *redis.Client {
	return redis.NewClient(clientOptions(addr, password, nil))
}

// NewTLSClient is NewClient over TLS with the client certificate of f.
func NewTLSClient(addr, password string, f *TLSFiles) *redis.Client {
	return redis.NewClient(clientOptions(addr, password, f))
}

func clientOptions(addr, password string, f *TLSFiles) *redis.Options {
	var tc *tls.Config
	if f != nil {
		tc = f.ClientConfig()
	}
	return &redis.Options{
		TLSConfig:       tc,
		Addr:            addr,
		Password:        password,
		DialTimeout:     time.Second,
		DialerRetries:   1, // default 5 with 100 ms pauses: a dead node would take 0.4 s to report
		ReadTimeout:     cmdTimeout,
		WriteTimeout:    cmdTimeout,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1, // go-redis: 0 means "default (3)", -1 means none
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
}

// Start starts n redis-server nodes concurrently and returns once each answers with AUTH
// (INFO, checked to come from its own process, not from a stranger that took the port). When
// the test ends, every node is killed with SIGKILL, its client closed and its directory
// removed (if the test failed, the tail of each node's log is logged first).
// Start fails the test with MissingServerMessage if redis-server is not installed.
func Start(t testing.TB, n int, opts Options) []*Node {
	t.Helper()
	bin, ver := lookupServer(t)
	opts = opts.withDefaults()
	nodes := make([]*Node, n)
	cleanupAll(t, nodes)

	for i := range nodes {
		// Not t.TempDir: a node's directory must outlive Kill and Restart
		// within the test and is removed by the harness's own cleanup,
		// after the process is gone.
		dir, err := os.MkdirTemp("", "redistest-") //nolint:usetesting // see above
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		nodes[i] = &Node{bin: bin, version: ver, opts: opts, dir: dir, distinct: opts.DistinctHosts}
	}

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = nd.firstStart()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("redistest: starting %d nodes: %v", n, err)
	}
	return nodes
}

func (n *Node) cleanup(t testing.TB) {
	err := n.kill()
	if err != nil {
		t.Errorf("redistest: cleanup %s: %v", n.Addr(), err)
	}
	n.mu.Lock()
	if n.client != nil {
		_ = n.client.Close()
		n.client = nil
	}
	started := n.cmd != nil
	n.mu.Unlock()
	if t.Failed() && started {
		t.Logf("redistest: %s", n.LogTail(15))
		n.keepLog(t)
	}
	if err == nil {
		_ = os.RemoveAll(n.dir)
	}
	release(n)
}

// firstStart picks an address and starts the node, retrying on a new port when another
// process took it between the check and the start.
func (n *Node) firstStart() error {
	var errs []error
	for range startAttempts {
		if err := reserve(n); err != nil {
			return err
		}
		if testHookBeforeSpawn != nil {
			testHookBeforeSpawn(n.ip, n.port)
		}
		err := n.spawn()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errAddrInUse) {
			return err
		}
		release(n)
	}
	return fmt.Errorf("no free port after %d attempts: %w", startAttempts, errors.Join(errs...))
}

// Addresses held by live nodes of this process, so concurrent Starts never pick the same.
var (
	resMu    sync.Mutex
	resPorts = map[int]bool{}
	resIPs   = map[string]bool{}
)

func reserve(n *Node) error {
	resMu.Lock()
	defer resMu.Unlock()
	for range 1000 {
		ip := "127.0.0.1"
		if n.distinct {
			ip = fmt.Sprintf("127.0.0.%d", 2+rand.IntN(253))
			if resIPs[ip] {
				continue
			}
		}
		port := minPort + rand.IntN(maxPort-minPort+1)
		if resPorts[port] || !canListen(ip, port) || !canListen(ip, port+busOffset) {
			continue
		}
		resPorts[port] = true
		if n.distinct {
			resIPs[ip] = true
		}
		n.ip, n.port = ip, port
		return nil
	}
	return errors.New("no free loopback address found in 1000 tries")
}

func release(n *Node) {
	resMu.Lock()
	defer resMu.Unlock()
	if n.port != 0 {
		delete(resPorts, n.port)
	}
	if n.distinct && n.ip != "" {
		delete(resIPs, n.ip)
	}
}

func canListen(ip string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// cleanupAll registers the clean-up of every node started into nodes (the
// slice is read when the test ends, so nodes started later count too),
// all at once.
func cleanupAll(t testing.TB, nodes []*Node) {
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			if nd == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				nd.cleanup(t)
			}()
		}
		wg.Wait()
	})
}

// keepLog copies the node's whole log into the directory REDISTEST_KEEP_LOGS
// names, if set, as <ip>_<port>.log: the tail a failed test prints rarely
// reaches back to the cause.
func (n *Node) keepLog(t testing.TB) {
	dir := os.Getenv("REDISTEST_KEEP_LOGS")
	if dir == "" {
		return
	}
	data, err := os.ReadFile(filepath.Join(n.dir, logFileName))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(n.Addr(), ":", "_")+".log"), data, 0o644)
	}
	if err != nil {
		t.Logf("redistest: keeping the log of %s: %v", n.Addr(), err)
	}
}
