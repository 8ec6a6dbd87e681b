package videopublishing

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Transcoder turns an upload into a video every browser plays, plus a poster image.
type Transcoder interface {
	// Transcode writes the web version of the file source to the path video and a poster image to
	// the path poster (their directories exist; the files may exist from an earlier attempt and are
	// replaced) and reports which of the two it made. A verdict about the input — it is not a video
	// ffmpeg can read — is a *RejectedError; any other error is taken as transient and retried.
	Transcode(ctx context.Context, source, video, poster string) (Outputs, error)
}

// Outputs says which files a Transcoder made.
type Outputs struct {
	Video  bool // false: publish the upload as it is
	Poster bool
}

// RejectedError is a transcoder's verdict that the input can never be published.
type RejectedError struct {
	Reason string // shown to the creator
}

func (e *RejectedError) Error() string { return e.Reason }

// KeepAsUploaded is the Transcoder used without ffmpeg: the upload is published as it is.
type KeepAsUploaded struct{}

// Transcode makes nothing.
func (KeepAsUploaded) Transcode(context.Context, string, string, string) (Outputs, error) {
	return Outputs{}, nil
}

// DefaultTranscoder returns FFmpeg when ffmpeg is on PATH, otherwise KeepAsUploaded.
func DefaultTranscoder(timeout time.Duration) Transcoder {
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		return KeepAsUploaded{}
	}
	return &FFmpeg{Path: p, Timeout: timeout}
}

// FFmpeg transcodes with the ffmpeg command: H.264 video (yuv420p, even dimensions) and AAC audio in
// an MP4 whose index is at the front (-movflags +faststart, so playback starts before the download
// ends), and a JPEG poster from about one second in (the first frame for shorter clips).
type FFmpeg struct {
	Path    string
	Timeout time.Duration // per run; default DefaultTranscodeTimeout
}

// Transcode runs ffmpeg twice: the video into a temporary file renamed into place when complete (a
// crash never leaves half a video under the final name), then the poster. A poster ffmpeg cannot take
// is no reason to fail the video: it is just not made.
//
// The temporary files are this run's own (partName): an earlier run at the same video may still be
// writing its own — an ffmpeg left behind by a process that was killed, or one of a process whose lease
// a peer took over — and two ffmpegs writing one file make a video that is neither.
func (f *FFmpeg) Transcode(ctx context.Context, source, video, poster string) (Outputs, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTranscodeTimeout
	}
	tmp := partName(video)
	defer os.Remove(tmp)
	err := f.run(ctx, timeout, source, tmp,
		"-i", source,
		"-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn",
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
		"-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
		"-c:a", "aac", "-b:a", "128k",
		"-movflags", "+faststart", "-f", "mp4", tmp)
	if err != nil {
		return Outputs{}, err
	}
	if err := os.Rename(tmp, video); err != nil {
		return Outputs{}, fmt.Errorf("keep the transcoded video: %w", err)
	}
	out := Outputs{Video: true}
	ptmp := partName(poster)
	defer os.Remove(ptmp)
	for _, at := range []string{"1", "0"} {
		err := f.run(ctx, timeout, video, ptmp,
			"-ss", at, "-i", video, "-frames:v", "1", "-q:v", "3", "-f", "image2", "-update", "1", ptmp)
		var rejected *RejectedError
		if err != nil && !errors.As(err, &rejected) {
			return out, err
		}
		if st, statErr := os.Stat(ptmp); err == nil && statErr == nil && st.Size() > 0 {
			if err := os.Rename(ptmp, poster); err != nil {
				return out, fmt.Errorf("keep the poster: %w", err)
			}
			out.Poster = true
			break
		}
	}
	return out, nil
}

// run runs ffmpeg with args and classifies its failure: the caller's context ending (shutdown) and
// trouble of the machine (disk full, permissions, ffmpeg missing) are transient; the timeout and
// anything else ffmpeg complains about are a *RejectedError carrying ffmpeg's last words, with the
// server's paths taken out.
func (f *FFmpeg) run(ctx context.Context, timeout time.Duration, input, output string, args ...string) error {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	full := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
	cmd := exec.CommandContext(tctx, f.Path, full...)
	endWithThisProcess(cmd)
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err == nil {
		// Exit status 0 is not enough: ffmpeg exits 0 when the disk fills up while it writes the
		// trailer (the MP4's index) or closes the file, leaving a truncated output no player opens.
		// Its error output is the only sign.
		if msg := strings.TrimSpace(stderr.String()); outputIncomplete(msg) {
			return fmt.Errorf("ffmpeg exited 0 but did not finish %s: %s", output, lastLine(msg))
		}
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(tctx.Err(), context.DeadlineExceeded) {
		return &RejectedError{Reason: fmt.Sprintf("Transcoding took longer than %s.", timeout)}
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("run ffmpeg: %w", err) // could not start it
	}
	msg := strings.TrimSpace(stderr.String())
	if !exit.Exited() {
		// Killed by a signal (the OOM killer, an operator): not the input's fault as far as we know.
		return fmt.Errorf("ffmpeg was killed (%v): %s", exit, lastLine(msg))
	}
	for _, trouble := range machineTrouble {
		if strings.Contains(msg, trouble) {
			return fmt.Errorf("ffmpeg: %s", lastLine(msg))
		}
	}
	detail := lastLine(strings.NewReplacer(input, "input", output, "output").Replace(msg))
	if detail == "" {
		detail = exit.String()
	}
	if len(detail) > 300 {
		detail = detail[:300] + "…"
	}
	return &RejectedError{Reason: "The file could not be transcoded: " + detail}
}

// partName returns a temporary name for path that no other run uses: path's name with a random part
// before its extension, and ".part" after it (<id>.<random>.mp4.part).
func partName(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + rand.Text()[:12] + ext + ".part"
}

// machineTrouble are ffmpeg's words (strerror texts) for conditions of the machine rather than of the
// input: they go away when an operator frees space or fixes permissions, so they are retried.
var machineTrouble = []string{
	"No space left on device",
	"Disk quota exceeded",
	"Permission denied",
	"Read-only file system",
	"Too many open files",
	"Cannot allocate memory",
	"Input/output error",
	"Stale file handle",
}

// outputIncomplete reports whether ffmpeg's error output (-loglevel error) says that it could not
// finish writing its output: the machine's trouble, or its own words for a trailer or a file it
// could not write or close. Other errors it reports and still exits 0 on (a damaged frame of the
// input, say) leave a complete output and are not a reason to retry.
func outputIncomplete(msg string) bool {
	if msg == "" {
		return false
	}
	for _, trouble := range machineTrouble {
		if strings.Contains(msg, trouble) {
			return true
		}
	}
	return strings.Contains(msg, "Error writing trailer") || strings.Contains(msg, "Error closing file")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// tailBuffer keeps the last max bytes written to it: ffmpeg can be chatty, and the end says why it
// stopped.
type tailBuffer struct {
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string { return string(b.buf) }
