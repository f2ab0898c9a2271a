// Package childproc ties the processes the commands start (a player, the benchmark's
// encoder) to the life of the process that started them.
package childproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes cmd, before it starts, receive sig when its parent dies, however it
// dies: a context's cancel stops it on an orderly exit, but a second Ctrl-C (which exits at
// once) or SIGKILL would leave an encoder or a player running with nobody to stop it. Only
// Linux offers this (prctl PR_SET_PDEATHSIG); elsewhere it does nothing.
func DieWithParent(cmd *exec.Cmd, sig syscall.Signal) { dieWithParent(cmd, sig) }
