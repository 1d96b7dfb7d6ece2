//go:build !unix

package emulator

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) { _ = p.Kill() }

func kill(p *os.Process) { _ = p.Kill() }

// processAlive is conservative where signals are unavailable: folders are never swept.
func processAlive(int) bool { return true }
