//go:build linux

package redistest

import "syscall"

// sysProcAttr puts redis-server in its own process group (so a kill reaches any child it
// forked) and asks the kernel to SIGKILL it if the test binary dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
