package main

import "syscall"

// childSysProcAttr makes the kernel stop a child broker of "strata dev
// --brokers N" when strata dev dies, even by SIGKILL.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
