//go:build linux

package redistest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Net is a private test network of real, separate hosts: one network namespace per node, each
// joined by a veth pair to a bridge that the test creates on the host. The bridge holds
// 10.213.X.1/24 (X drawn at random and locked per machine, so tests running in parallel never
// share a subnet); node i listens on 10.213.X.(10+i), port 6379, in its own namespace. The
// test process, on the host, reaches every node through the bridge, as Terraform reaches
// hosts; traffic never leaves the bridge, the namespaces and loopback.
//
// Cut cuts a node off from chosen peers with blackhole routes in its own namespace (packets
// to them are dropped, so neither side's connection works), while the host still reaches it:
// the partition seen on real networks when a host loses its links to the others but not to
// the operator. Heal removes the routes. Kill with Node.Kill.
//
// Needs root and the ip command (iproute2); StartNet skips the test with the reason
// otherwise. Everything it creates is removed when the test ends, failed or not: processes
// first, then namespaces (which takes their veth ends), the bridge and the subnet lock.
type Net struct {
	id     string // random, in every name this Net creates
	subnet int    // X in 10.213.X.0/24
	bridge string
	lock   *os.File

	mu    sync.Mutex
	nodes []*Node
	ns    map[*Node]string
	veths []string           // host ends of the veth pairs
	cuts  map[*Node][]string // node -> peer IPs blackholed in its namespace
}

const (
	netPrefix  = "10.213"
	netPort    = 6379
	netTimeout = 10 * time.Second // bound on each ip command
)

// NetUnavailable returns why namespace tests cannot run here ("" when they can): they need
// root and the ip command.
func NetUnavailable() string {
	if os.Geteuid() != 0 {
		return "network namespace tests need root (ip netns, veth, bridge); CI runs them as root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "network namespace tests need the ip command (apt-get install -y iproute2)"
	}
	return ""
}

// StartNet creates a private network and starts n redis-server nodes in it, one per network
// namespace, with opts (DistinctHosts, TLS and ConfigFile are not supported there and are
// ignored; the nodes accept DEBUG from the host so FillNode works). It skips the test when
// NetUnavailable says so.
func StartNet(t testing.TB, n int, opts Options) (*Net, []*Node) {
	t.Helper()
	if why := NetUnavailable(); why != "" {
		t.Skip(why)
	}
	bin, ver := lookupServer(t)
	opts = opts.withDefaults()
	opts.DistinctHosts, opts.TLS, opts.ConfigFile = false, nil, false
	opts.ExtraArgs = append(append([]string(nil), opts.ExtraArgs...), "--enable-debug-command", "yes")

	nt := &Net{id: fmt.Sprintf("%06x", rand.IntN(1<<24)), ns: map[*Node]string{}, cuts: map[*Node][]string{}}
	nt.bridge = "rtb" + nt.id
	// Registered first, so it runs after the nodes' own cleanup has killed the processes.
	t.Cleanup(func() { nt.teardown(t) })
	if err := nt.lockSubnet(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	host := fmt.Sprintf("%s.%d.1/24", netPrefix, nt.subnet)
	if err := run("link", "add", nt.bridge, "type", "bridge"); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	for _, c := range [][]string{{"addr", "add", host, "dev", nt.bridge}, {"link", "set", nt.bridge, "up"}} {
		if err := run(c...); err != nil {
			t.Fatalf("redistest: %v", err)
		}
	}
	nodes := make([]*Node, n)
	cleanupAll(t, nodes)
	for i := range nodes {
		ns := fmt.Sprintf("rt%s-%d", nt.id, i)
		vh, vn := fmt.Sprintf("rh%s%d", nt.id, i), fmt.Sprintf("rn%s%d", nt.id, i)
		ip := fmt.Sprintf("%s.%d.%d", netPrefix, nt.subnet, 10+i)
		steps := [][]string{
			{"netns", "add", ns},
			{"link", "add", vh, "type", "veth", "peer", "name", vn},
			{"link", "set", vh, "master", nt.bridge, "up"},
			{"link", "set", vn, "netns", ns},
			{"-n", ns, "addr", "add", ip + "/24", "dev", vn},
			{"-n", ns, "link", "set", vn, "up"},
			{"-n", ns, "link", "set", "lo", "up"},
		}
		dir, err := os.MkdirTemp("", "redistest-net-") //nolint:usetesting // outlives Kill/Restart, removed by cleanup
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		nd := &Node{bin: bin, version: ver, opts: opts, dir: dir, ip: ip, port: netPort, netns: ns}
		nodes[i] = nd
		nt.mu.Lock()
		nt.ns[nd] = ns
		nt.veths = append(nt.veths, vh)
		nt.nodes = append(nt.nodes, nd)
		nt.mu.Unlock()
		for _, s := range steps {
			if err := run(s...); err != nil {
				t.Fatalf("redistest: node %d: %v", i, err)
			}
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = nd.spawn()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("redistest: starting node %d in namespace %s: %v", i, nt.ns[nodes[i]], err)
		}
	}
	return nt, nodes
}

// HostIP is the host's address on the bridge: what the nodes see Terraform (the test) come from.
func (nt *Net) HostIP() string { return fmt.Sprintf("%s.%d.1", netPrefix, nt.subnet) }

// Namespace returns the name of the node's network namespace.
func (nt *Net) Namespace(n *Node) string {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return nt.ns[n]
}

// Cut cuts n off from each of peers (every other node of the Net when none is given): a
// blackhole route to each peer's address in n's namespace drops every packet n sends them, so
// no connection between them works either way (cluster bus, replication). The host still
// reaches n. Cutting a peer twice is a no-op.
func (nt *Net) Cut(t testing.TB, n *Node, peers ...*Node) {
	t.Helper()
	if len(peers) == 0 {
		for _, p := range nt.nodes {
			if p != n {
				peers = append(peers, p)
			}
		}
	}
	nt.mu.Lock()
	defer nt.mu.Unlock()
	ns := nt.ns[n]
	for _, p := range peers {
		ip := p.IP()
		if containsString(nt.cuts[n], ip) {
			continue
		}
		if err := run("-n", ns, "route", "add", "blackhole", ip+"/32"); err != nil {
			t.Fatalf("redistest: cut %s from %s: %v", n.Addr(), p.Addr(), err)
		}
		nt.cuts[n] = append(nt.cuts[n], ip)
	}
}

// Heal removes every blackhole route Cut put in n's namespace (every node's when n is nil).
func (nt *Net) Heal(t testing.TB, n *Node) {
	t.Helper()
	nt.mu.Lock()
	defer nt.mu.Unlock()
	for nd, ips := range nt.cuts {
		if n != nil && nd != n {
			continue
		}
		for _, ip := range ips {
			if err := run("-n", nt.ns[nd], "route", "del", "blackhole", ip+"/32"); err != nil {
				t.Fatalf("redistest: heal %s: %v", nd.Addr(), err)
			}
		}
		delete(nt.cuts, nd)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// lockSubnet draws X in 10.213.X.0/24 until it holds the machine-wide lock for it (a file
// under the temp directory, flock'ed: other test processes skip it) and no route or address
// of the host uses it.
func (nt *Net) lockSubnet() error {
	for range 256 {
		x := rand.IntN(256)
		f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("redistest-net-%d.lock", x)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		subnet := fmt.Sprintf("%s.%d.0/24", netPrefix, x)
		routes, _ := output("route", "show", "to", "root", subnet)
		addrs, _ := output("-o", "addr", "show", "to", subnet)
		if strings.TrimSpace(routes+addrs) != "" {
			f.Close()
			continue
		}
		nt.subnet, nt.lock = x, f
		return nil
	}
	return fmt.Errorf("no free test subnet %s.X.0/24 found", netPrefix)
}

func (nt *Net) teardown(t testing.TB) {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	for nd, ns := range nt.ns {
		// A process still in the namespace (cleanup failed to kill it) keeps it alive after
		// the name is gone: kill whatever runs there first.
		if nd != nil && nd.Running() {
			_ = nd.kill()
		}
		if err := run("netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			t.Errorf("redistest: removing namespace %s: %v", ns, err)
		}
	}
	// A namespace outlives its name while sockets of it linger (TIME_WAIT),
	// and its veth pair with it: delete the pairs from the host end.
	for _, vh := range nt.veths {
		if err := run("link", "del", vh); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			t.Errorf("redistest: removing veth %s: %v", vh, err)
		}
	}
	if err := run("link", "del", nt.bridge); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		t.Errorf("redistest: removing bridge %s: %v", nt.bridge, err)
	}
	if nt.lock != nil {
		_ = nt.lock.Close()
	}
}

// run runs one ip command, bounded in time; the error quotes its output.
func run(args ...string) error {
	_, err := output(args...)
	return err
}

func output(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), netTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
