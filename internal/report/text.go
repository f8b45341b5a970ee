package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"modelgate/internal/finding"
)

// TextOptions control the text report.
type TextOptions struct {
	// Color uses ANSI colours (only ever on a terminal).
	Color bool
	// Verbose lists clean files and innocuous imports too.
	Verbose bool
	// OnlyFailing lists failing and unreadable files only (--quiet).
	OnlyFailing bool
	// Threshold and Strict decide which files are marked FAIL.
	Threshold finding.Severity
	Strict    bool
	Rules     *finding.Catalogue
}

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
	ansiRed   = "\x1b[31m"
	ansiYel   = "\x1b[33m"
	ansiCyan  = "\x1b[36m"
	ansiGreen = "\x1b[32m"
)

func (o *TextOptions) paint(code, s string) string {
	if !o.Color {
		return s
	}
	return code + s + ansiReset
}

func (o *TextOptions) sevColor(s finding.Severity) string {
	switch s {
	case finding.Critical:
		return ansiBold + ansiRed
	case finding.High:
		return ansiRed
	case finding.Medium:
		return ansiYel
	case finding.Low:
		return ansiCyan
	}
	return ansiDim
}

// WriteText writes the human-readable report: files grouped, most severe
// first, and a one-line summary at the end.
func WriteText(w io.Writer, r *Report, o TextOptions) error {
	if o.Rules == nil {
		o.Rules = finding.Default()
	}
	files := slices.Clone(r.Files)
	rank := func(f *File) int {
		s, ok := f.MaxSeverity()
		if !ok {
			return -1
		}
		return int(s)
	}
	slices.SortStableFunc(files, func(a, b *File) int {
		if c := cmp.Compare(rank(b), rank(a)); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
	var b strings.Builder
	failing, clean := 0, 0
	for _, f := range files {
		fails := FileFails(f, o.Threshold, o.Strict, o.Rules)
		if fails {
			failing++
		}
		notable := rank(f) > int(finding.Info) || f.Status != StatusComplete || hasUnsafeImport(f)
		if !notable {
			clean++
		}
		if (!notable && !o.Verbose) || (o.OnlyFailing && !fails && f.Status != StatusError) {
			continue
		}
		label := o.paint(ansiGreen, "ok  ")
		if fails {
			label = o.paint(ansiBold+ansiRed, "FAIL")
		} else if notable {
			label = o.paint(ansiYel, "warn")
		}
		fmt.Fprintf(&b, "%s  %s  (%s, %s", label, o.paint(ansiBold, Sanitize(f.Path)), f.Format, HumanBytes(f.Size))
		if f.Status != StatusComplete {
			fmt.Fprintf(&b, ", %s", f.Status)
		}
		if f.Cached {
			b.WriteString(", cached verdict")
		}
		b.WriteString(")\n")
		if f.Error != "" && f.Status == StatusError {
			fmt.Fprintf(&b, "      error: %s\n", Sanitize(f.Error))
		}
		for _, x := range f.Findings {
			if x.Severity == finding.Info && !o.Verbose {
				continue
			}
			sev := fmt.Sprintf("%-8s", strings.ToUpper(x.Severity.String()))
			loc := ""
			if x.Member != "" {
				loc = Sanitize(x.Member)
			}
			if x.Offset >= 0 {
				if loc != "" {
					loc += " "
				}
				loc += fmt.Sprintf("@%d", x.Offset)
			}
			if loc != "" {
				loc = "  " + loc
			}
			count := ""
			if x.Count > 1 {
				count = fmt.Sprintf(" (×%d)", x.Count)
			}
			fmt.Fprintf(&b, "      %s %s%s  %s%s\n", o.paint(o.sevColor(x.Severity), sev), x.Rule, o.paint(ansiDim, loc), Sanitize(x.Message), count)
			if x.Evidence != "" {
				fmt.Fprintf(&b, "               %s\n", o.paint(ansiDim, Sanitize(truncate(x.Evidence, 300))))
			}
		}
		var imps []string
		innocuous := 0
		for _, imp := range f.Imports {
			if imp.Safety == finding.Innocuous && !o.Verbose {
				innocuous++
				continue
			}
			imps = append(imps, fmt.Sprintf("%s.%s [%s]", Sanitize(imp.Module), Sanitize(imp.Name), imp.Safety))
		}
		if len(imps) > 0 || innocuous > 0 {
			line := strings.Join(imps, ", ")
			if innocuous > 0 {
				if line != "" {
					line += ", "
				}
				line += fmt.Sprintf("%d innocuous", innocuous)
			}
			fmt.Fprintf(&b, "      imports: %s\n", line)
		}
		b.WriteByte('\n')
	}
	s := r.Summary
	verdict := o.paint(ansiBold+ansiGreen, "PASS")
	if failing > 0 {
		verdict = o.paint(ansiBold+ansiRed, "FAIL")
	}
	fmt.Fprintf(&b, "%s: %d files (%s) scanned, %d failing at %s%s, %d clean; findings: %d critical, %d high, %d medium, %d low, %d info",
		verdict, s.Files, HumanBytes(s.Bytes), failing, o.Threshold, strictNote(o.Strict), clean,
		s.Findings["critical"], s.Findings["high"], s.Findings["medium"], s.Findings["low"], s.Findings["info"])
	if n := s.Statuses[StatusPartial] + s.Statuses[StatusError]; n > 0 {
		fmt.Fprintf(&b, "; %d not fully checked", n)
	}
	if s.Suppressed > 0 {
		fmt.Fprintf(&b, "; %d suppressed", s.Suppressed)
	}
	b.WriteString(".\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func strictNote(strict bool) string {
	if strict {
		return " (strict)"
	}
	return ""
}

func hasUnsafeImport(f *File) bool {
	for _, imp := range f.Imports {
		if imp.Safety != finding.Innocuous {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// HumanBytes formats a byte count in B, KiB, MiB or GiB.
func HumanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}
