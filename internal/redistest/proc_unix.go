//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// killHard sends SIGKILL to the process group led by p (redis-server and any fork of it).
func killHard(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}
