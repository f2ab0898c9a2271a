package childproc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildDiesWithParent: a grandchild started with DieWithParent by a helper process is
// gone once the helper is killed with SIGKILL (which runs no cleanup of its own).
func TestChildDiesWithParent(t *testing.T) {
	if os.Getenv("CHILDPROC_HELPER") == "1" {
		cmd := exec.Command("sleep", "60")
		DieWithParent(cmd, syscall.SIGKILL)
		if err := cmd.Start(); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString(strconv.Itoa(cmd.Process.Pid) + "\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	helper := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithParent$")
	helper.Env = append(os.Environ(), "CHILDPROC_HELPER=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		helper.Process.Kill()
		t.Fatalf("helper said %q", buf[:n])
	}
	helper.Process.Kill()
	helper.Wait()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return // gone
		}
		// A zombie awaits reaping by init; its state says so.
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("child %d outlived its killed parent", pid)
}
