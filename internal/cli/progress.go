package cli

import (
	"fmt"
	"io"
	"time"

	"modelgate/internal/scan"
)

// progress draws a one-line progress bar with bytes/s on a terminal. It
// appears only once a scan has run for a second, so short scans stay quiet.
type progress struct {
	w      io.Writer
	start  time.Time
	last   time.Time
	shown  bool
	now    func() time.Time
	latest scan.Progress
}

func newProgress(w io.Writer, start time.Time) *progress {
	return &progress{w: w, start: start, now: time.Now}
}

func (p *progress) update(s scan.Progress) {
	p.latest = s
	now := p.now()
	if now.Sub(p.start) < time.Second || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.shown = true
	fmt.Fprint(p.w, "\r\x1b[K"+progressLine(s, now.Sub(p.start)))
}

func progressLine(s scan.Progress, elapsed time.Duration) string {
	const width = 24
	frac := 1.0
	if s.BytesTotal > 0 {
		frac = float64(s.BytesDone) / float64(s.BytesTotal)
	}
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	rate := float64(s.BytesDone) / max(elapsed.Seconds(), 0.001)
	return fmt.Sprintf("[%s] %3.0f%%  %d/%d files  %s/s", bar, frac*100, s.FilesDone, s.FilesTotal, humanRate(rate))
}

func humanRate(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// finish clears the bar; safe on a nil progress.
func (p *progress) finish() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
