//go:build !linux

package redistest

import "syscall"

// sysProcAttr has nothing to add where the kernel cannot tie a child's life
// to its parent's; the cleanups kill the servers.
func sysProcAttr() *syscall.SysProcAttr { return nil }
