// Package report defines the scan report (a stable JSON document) and
// renders it as text, JSON or SARIF. One JSON document can be re-rendered
// in any format, since the JSON carries everything the others show.
package report

import (
	"cmp"
	"slices"

	"modelgate/internal/finding"
)

// Schema identifies the JSON report format; it changes only incompatibly.
const Schema = "https://modelgate.dev/schemas/report/v1"

// Status says how completely a file was checked.
type Status string

// File statuses.
const (
	// StatusComplete: every part of the file was checked.
	StatusComplete Status = "complete"
	// StatusPartial: a limit or a parse failure left part unchecked.
	StatusPartial Status = "partial"
	// StatusError: the file could not be read at all.
	StatusError Status = "error"
)

// Report is one scan run.
type Report struct {
	Schema  string     `json:"schema"`
	Tool    Tool       `json:"tool"`
	Policy  PolicyInfo `json:"policy"`
	Targets []string   `json:"targets"`
	Files   []*File    `json:"files"`
	Summary Summary    `json:"summary"`
}

// Tool names the scanner.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// PolicyInfo names the policy the scan used.
type PolicyInfo struct {
	Version string   `json:"version"`
	Sources []string `json:"sources"`
}

// File is everything found in one scanned file.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Format is the detected format of the file's content, or "unknown".
	Format string `json:"format"`
	Status Status `json:"status"`
	// Error says why the status is not complete.
	Error string `json:"error,omitempty"`
	// Revision is the commit a remote file was read at (hf:// scans).
	Revision string `json:"revision,omitempty"`
	// Members lists nested content: archive members, nested pickles.
	Members  []Member          `json:"members,omitempty"`
	Imports  []finding.Import  `json:"imports,omitempty"`
	Findings []finding.Finding `json:"findings,omitempty"`
	// Suppressed counts findings the policy suppressed.
	Suppressed int `json:"suppressed,omitempty"`
	// Listings holds explain's decompiled pickles, when asked for.
	Listings []Listing `json:"listings,omitempty"`
	// Cached is set when the verdict came from the cache of earlier scans.
	Cached bool `json:"cached,omitempty"`
}

// Member is nested content of a file.
type Member struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	Size   int64  `json:"size"`
}

// Listing is a decompiled pickle member.
type Listing struct {
	Member string `json:"member,omitempty"`
	Text   string `json:"text"`
}

// Summary totals a report.
type Summary struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Findings counts findings by severity name.
	Findings map[string]int `json:"findings"`
	// Suspicious counts imports judged suspicious; Dangerous dangerous ones.
	Suspicious int `json:"suspicious_imports"`
	Dangerous  int `json:"dangerous_imports"`
	Suppressed int `json:"suppressed"`
	// MaxSeverity is the most severe finding, or "none".
	MaxSeverity string `json:"max_severity"`
	// Statuses counts files by status.
	Statuses map[Status]int `json:"statuses"`
}

// MaxSeverity returns the file's most severe finding and whether it has any.
func (f *File) MaxSeverity() (finding.Severity, bool) {
	var max finding.Severity
	any := false
	for _, x := range f.Findings {
		if !any || x.Severity > max {
			max, any = x.Severity, true
		}
	}
	return max, any
}

// Sort orders a file's findings most severe first, and its imports and
// members by position, so that reports are stable.
func (f *File) Sort() {
	slices.SortStableFunc(f.Findings, func(a, b finding.Finding) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Member, b.Member); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Offset, b.Offset); c != 0 {
			return c
		}
		return cmp.Compare(a.Rule, b.Rule)
	})
	slices.SortStableFunc(f.Imports, func(a, b finding.Import) int {
		if c := cmp.Compare(a.Member, b.Member); c != 0 {
			return c
		}
		return cmp.Compare(a.Offset, b.Offset)
	})
}

// Summarize fills r.Summary from r.Files and sorts files by path.
func (r *Report) Summarize() {
	slices.SortStableFunc(r.Files, func(a, b *File) int { return cmp.Compare(a.Path, b.Path) })
	s := Summary{Findings: map[string]int{}, Statuses: map[Status]int{}, MaxSeverity: "none"}
	for _, sev := range []finding.Severity{finding.Critical, finding.High, finding.Medium, finding.Low, finding.Info} {
		s.Findings[sev.String()] = 0
	}
	var max finding.Severity
	any := false
	for _, f := range r.Files {
		s.Files++
		s.Bytes += f.Size
		s.Suppressed += f.Suppressed
		s.Statuses[f.Status]++
		for _, x := range f.Findings {
			s.Findings[x.Severity.String()]++
			if !any || x.Severity > max {
				max, any = x.Severity, true
			}
		}
		for _, imp := range f.Imports {
			switch imp.Safety {
			case finding.Suspicious:
				s.Suspicious++
			case finding.Dangerous:
				s.Dangerous++
			}
		}
	}
	if any {
		s.MaxSeverity = max.String()
	}
	r.Summary = s
}

// Fails reports whether the report fails at threshold: any finding at or
// above it, or with strict any suspicious-class finding or import.
func (r *Report) Fails(threshold finding.Severity, strict bool, rules *finding.Catalogue) bool {
	for _, f := range r.Files {
		if FileFails(f, threshold, strict, rules) {
			return true
		}
	}
	return false
}

// FileFails applies the fail rule to one file.
func FileFails(f *File, threshold finding.Severity, strict bool, rules *finding.Catalogue) bool {
	for _, x := range f.Findings {
		if x.Severity >= threshold {
			return true
		}
		if strict {
			if r, ok := rules.Lookup(x.Rule); ok && r.Strict {
				return true
			}
		}
	}
	if strict {
		for _, imp := range f.Imports {
			if imp.Safety != finding.Innocuous {
				return true
			}
		}
	}
	return false
}
