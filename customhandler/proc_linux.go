//go:build linux

package customhandler

import "syscall"

// setDeathSignal kills the handler when azbind dies without stopping it.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
