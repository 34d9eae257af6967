package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// The demo's pidfile is trusted only for a live redis-server: a missing
// file, garbage, a dead pid and a process of another name all read as "not
// running".
func TestDemoNode_pid(t *testing.T) {
	dir := t.TempDir()
	n := &demoNode{addr: "127.0.0.1:1", dir: dir}
	if n.Running() {
		t.Error("running without a pidfile")
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "redis.pid"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("garbage\n")
	if n.Running() {
		t.Error("running with a garbage pidfile")
	}
	write(strconv.Itoa(os.Getpid()) + "\n")
	if n.Running() {
		t.Errorf("the test process (not a redis-server) counts as the node")
	}
	if !alive(os.Getpid()) {
		t.Error("alive(own pid) = false")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	if alive(cmd.Process.Pid) {
		t.Errorf("alive(%d) of a reaped process = true", cmd.Process.Pid)
	}
	if n.LogFile() != filepath.Join(dir, "redis.log") || n.Addr() != "127.0.0.1:1" {
		t.Errorf("LogFile %s, Addr %s", n.LogFile(), n.Addr())
	}
	if err := n.Kill(); err == nil {
		t.Error("Kill of a node with no running redis-server: no error")
	}
}
