//go:build unix

package emulator

import (
	"os"
	"syscall"
)

// terminate sends SIGTERM to the process group led by p.
func terminate(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGTERM) }

// kill sends SIGKILL to the process group led by p.
func kill(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
