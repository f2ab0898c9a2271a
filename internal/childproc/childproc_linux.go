package childproc

import (
	"os/exec"
	"syscall"
)

func dieWithParent(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// The signal comes when the OS thread that started the child ends, not the process:
	// Go keeps its threads for the process's life unless a goroutine locked to one exits.
	cmd.SysProcAttr.Pdeathsig = sig
}
