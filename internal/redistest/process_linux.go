package redistest

import "syscall"

// sysProcAttr makes the kernel kill a private redis-server when the test
// process dies without running its cleanups (a panic, a timeout, ^C).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
