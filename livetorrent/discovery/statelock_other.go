//go:build !unix

package discovery

// lockState always succeeds where advisory file locks are not available.
func lockState(string) (func(), bool) { return func() {}, true }
