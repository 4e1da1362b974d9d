package e2e

import "syscall"

// sysProcAttr makes the kernel kill a strata child if the test process dies
// (a panic or "go test -timeout"), so no broker outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
