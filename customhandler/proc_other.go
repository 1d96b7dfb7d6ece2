//go:build unix && !linux

package customhandler

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}
