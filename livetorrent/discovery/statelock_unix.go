//go:build unix

package discovery

import (
	"os"
	"syscall"
)

// lockState takes an exclusive lock beside a state file, so two processes on one machine
// never share a node id. ok is false when another process holds it.
func lockState(path string) (unlock func(), ok bool) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return func() { f.Close() }, true
}
