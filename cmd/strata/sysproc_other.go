//go:build !linux

package main

import "syscall"

// childSysProcAttr is empty where the kernel cannot stop a child broker
// when its parent dies.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
