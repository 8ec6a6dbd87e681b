package videopublishing

import (
	"os/exec"
	"syscall"
)

// endWithThisProcess has the kernel kill the child when this process dies, so that a killed process
// leaves no ffmpeg behind to go on transcoding for nobody. (The signal is tied to the thread that
// started the child; the Go runtime ends threads only in rare cases, and partName keeps a survivor
// from doing harm.)
func endWithThisProcess(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
