package redistest

// Process control of a node: spawn and wait until ready, kill, restart, wipe and read its log.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kill sends SIGKILL to the node (and any child it forked) and waits for it to exit. Killing a
// node that is not running does nothing.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	if err := n.kill(); err != nil {
		t.Fatalf("redistest: kill %s: %v", n.Addr(), err)
	}
}

func (n *Node) kill() error {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil || done == nil || !isOpen(done) {
		return nil
	}
	killHard(cmd.Process)
	select {
	case <-done:
		n.mu.Lock()
		if n.client != nil {
			_ = n.client.Close()
			n.client = nil
		}
		n.mu.Unlock()
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("pid %d still running %v after SIGKILL", cmd.Process.Pid, killTimeout)
	}
}

// Restart starts the node again on the same address and directory: it keeps its nodes.conf
// (same node ID, same view of the cluster) and whatever data it had persisted (none by
// default: appendonly no, save ""). A running node is killed first. Restart returns once the
// node answers.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.kill(); err != nil {
		t.Fatalf("redistest: restart %s: %v", n.Addr(), err)
	}
	if err := n.spawn(); err != nil {
		t.Fatalf("redistest: restart %s: %v", n.Addr(), err)
	}
}

// Wipe kills the node, deletes nodes.conf and all data files, and starts it again: same
// address, new node ID, empty, knowing no other node. The log file is kept.
func (n *Node) Wipe(t testing.TB) {
	t.Helper()
	if err := n.kill(); err != nil {
		t.Fatalf("redistest: wipe %s: %v", n.Addr(), err)
	}
	entries, err := os.ReadDir(n.dir)
	if err != nil {
		t.Fatalf("redistest: wipe %s: %v", n.Addr(), err)
	}
	for _, e := range entries {
		if e.Name() == logFileName || e.Name() == stdioFileName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(n.dir, e.Name())); err != nil {
			t.Fatalf("redistest: wipe %s: %v", n.Addr(), err)
		}
	}
	if err := n.spawn(); err != nil {
		t.Fatalf("redistest: wipe %s: %v", n.Addr(), err)
	}
}

// LogTail returns the last lines of the node's log file (and of its stdout/stderr, where
// redis-server reports configuration errors).
func (n *Node) LogTail(lines int) string {
	var b strings.Builder
	for _, name := range []string{stdioFileName, logFileName} {
		data, err := os.ReadFile(filepath.Join(n.dir, name))
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		fmt.Fprintf(&b, "--- %s %s (last %d lines) ---\n%s\n", n.Addr(), name, lines, tail(string(data), lines))
	}
	if b.Len() == 0 {
		return fmt.Sprintf("--- %s: no log output ---", n.Addr())
	}
	return strings.TrimRight(b.String(), "\n")
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func (n *Node) args() []string {
	a := []string{"--port", strconv.Itoa(n.port)}
	if n.opts.TLS != nil {
		a = n.opts.TLS.args(n.port, n.opts.TLSAuthClients)
	}
	if n.opts.ConfigFile {
		conf := filepath.Join(n.dir, "redis.conf")
		if _, err := os.Stat(conf); err != nil {
			_ = os.WriteFile(conf, nil, 0o600)
		}
		a = append([]string{conf}, a...)
	}
	a = append(a,
		"--bind", n.ip,
		"--dir", n.dir,
		"--requirepass", n.opts.Password,
		"--masterauth", n.opts.Password,
		"--appendonly", "no",
		"--save", "",
		"--daemonize", "no",
		"--logfile", n.LogFile(),
		"--protected-mode", "no",
	)
	for _, u := range n.opts.Users {
		// Each word its own argument: redis-server quotes every argument as one token.
		a = append(a, "--user")
		a = append(a, strings.Fields(u)...)
	}
	if n.distinct {
		if n.version.atLeast(7, 0) {
			a = append(a, "--bind-source-addr", n.ip)
		} else {
			// Redis 6 has no bind-source-addr: connections leave from 127.0.0.1, so a peer
			// would record this node under that address from a MEET. Announcing the bound
			// address in every cluster bus message and replication handshake makes peers and
			// masters use it instead (NodeArgs below may still announce another).
			a = append(a, "--cluster-announce-ip", n.ip, "--replica-announce-ip", n.ip)
		}
	}
	if n.version.atLeast(7, 0) {
		// DEBUG POPULATE (FillNode) is refused from non-local clients by default since 7.0.
		a = append(a, "--enable-debug-command", "local")
	}
	if *n.opts.ClusterEnabled {
		a = append(a,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(n.opts.NodeTimeout.Milliseconds(), 10),
		)
	}
	a = append(a, n.opts.ExtraArgs...)
	if n.opts.NodeArgs != nil {
		a = append(a, n.opts.NodeArgs(n.ip, n.port)...)
	}
	return a
}

var errAddrInUse = errors.New("address already in use")

// spawn starts the process on n's address and waits until it answers with AUTH.
func (n *Node) spawn() error {
	logPath := n.LogFile()
	var logOffset int64
	if fi, err := os.Stat(logPath); err == nil {
		logOffset = fi.Size()
	}
	stdio, err := os.OpenFile(filepath.Join(n.dir, stdioFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, n.args()...)
	if n.netns != "" {
		// ip netns exec execs the server in place: same pid, same process group.
		cmd = exec.Command("ip", append([]string{"netns", "exec", n.netns, n.bin}, n.args()...)...)
	}
	cmd.Dir = n.dir
	cmd.Stdout = stdio
	cmd.Stderr = stdio
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		stdio.Close()
		return fmt.Errorf("start %s: %w", n.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		stdio.Close()
		close(done)
	}()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()

	if err := n.waitReady(cmd, done); err != nil {
		_ = n.kill()
		newLog := readFrom(logPath, logOffset)
		if strings.Contains(newLog, "Address already in use") {
			return fmt.Errorf("%w: %v", errAddrInUse, err)
		}
		return fmt.Errorf("%v\n%s", err, n.LogTail(30))
	}
	return nil
}

func readFrom(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, 0); err != nil {
		return ""
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(f)
	return b.String()
}

// waitReady polls until the process answers INFO with AUTH. It checks the answer's
// process_id: another process may have taken the port, with a server using the same password.
func (n *Node) waitReady(cmd *exec.Cmd, done chan struct{}) error {
	exited := func(lastErr error) error {
		// cmd.ProcessState is set: done closes after cmd.Wait returns.
		return fmt.Errorf("redis-server on %s exited before answering (%v; last error: %v)", n.Addr(), cmd.ProcessState, lastErr)
	}
	opt := clientOptions(n.Addr(), n.opts.Password, n.opts.TLS)
	opt.ReadTimeout = time.Second // a non-Redis listener on the port must not stall the poll
	opt.WriteTimeout = time.Second
	opt.PoolSize = 1
	wantPid := strconv.Itoa(cmd.Process.Pid)
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for {
		select {
		case <-done:
			return exited(lastErr)
		default:
		}
		// Ask in the background, so that a process that exits while a stranger holds its
		// port (and does not answer) is noticed at once.
		type reply struct {
			info string
			err  error
		}
		replies := make(chan reply, 1)
		go func() {
			// A new client each time: a go-redis pool that has seen PoolSize failed dials
			// stops dialing for a second.
			c := redis.NewClient(opt)
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			info, err := c.Info(ctx, "server").Result()
			replies <- reply{info, err}
		}()
		var info string
		var err error
		select {
		case <-done:
			return exited(lastErr)
		case r := <-replies:
			info, err = r.info, r.err
		}
		lastErr = err
		if err == nil {
			if got := parseFields(info)["process_id"]; got == wantPid {
				return nil
			} else {
				lastErr = fmt.Errorf("%s is answered by another redis-server (pid %s, ours %s)", n.Addr(), got, wantPid)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer AUTH + INFO within %v: %v", n.Addr(), readyTimeout, lastErr)
		}
		time.Sleep(pollInterval)
	}
}
