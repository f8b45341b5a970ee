package scan

import (
	"context"
	"slices"

	"modelgate/internal/finding"
	"modelgate/internal/limits"
	"modelgate/internal/policy"
	"modelgate/internal/report"
)

// RepoCheck looks at the files of a scan together, as a repository or a
// folder: what no single file's format shows, such as a config that names
// code files to import, a build recipe, or a token left in a notebook.
// Unlike an Analyzer it may use file names as hints, since these checks
// are about files a framework or a builder finds by name.
type RepoCheck interface {
	Name() string
	// Check reads what it needs from repo.Files and reports findings.
	// Each finding's Path should be the Path of the entry it is about;
	// read errors are reported as findings, not returned.
	Check(ctx context.Context, repo *Repo, emit func(finding.Finding))
}

// Repo is what a RepoCheck sees: every file listed for the scan.
type Repo struct {
	Files  []Entry
	Policy *policy.Policy
	Rules  *finding.Catalogue
	Limits *limits.Limits
}

// repoFindings runs the repository checks over the listed entries and
// returns their findings by path.
func (s *Scanner) repoFindings(ctx context.Context, entries []Entry) map[string][]finding.Finding {
	if len(s.opts.RepoChecks) == 0 {
		return nil
	}
	repo := &Repo{Files: entries, Policy: s.opts.Policy, Rules: s.rules, Limits: s.lim}
	byPath := map[string][]finding.Finding{}
	for _, c := range s.opts.RepoChecks {
		if ctx.Err() != nil {
			return byPath
		}
		c.Check(ctx, repo, func(f finding.Finding) {
			if f.Analyzer == "" {
				f.Analyzer = c.Name()
			}
			byPath[f.Path] = append(byPath[f.Path], f)
		})
	}
	return byPath
}

// addFindings merges findings from repository checks into a file's
// result, through the same policy overrides, suppressions and
// de-duplication as the file's own findings.
func (s *Scanner) addFindings(res *report.File, fs []finding.Finding) {
	if len(fs) == 0 {
		return
	}
	st := &fileState{s: s, res: res, seen: map[dedupKey]int{}}
	for i, f := range res.Findings {
		st.seen[dedupKey{f.Rule, f.Member, f.Evidence, f.Message}] = i
	}
	for _, f := range fs {
		st.add(f, "")
	}
	res.Sort()
}

// orphanResults turns findings about paths that were not among the
// scanned entries into results of their own, so none is lost.
func (s *Scanner) orphanResults(byPath map[string][]finding.Finding, entries []Entry) []*report.File {
	listed := make(map[string]bool, len(entries))
	for _, e := range entries {
		listed[e.Path] = true
	}
	var paths []string
	for p := range byPath {
		if !listed[p] {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var out []*report.File
	for _, p := range paths {
		res := &report.File{Path: p, Format: "repository", Status: report.StatusComplete}
		s.addFindings(res, byPath[p])
		out = append(out, res)
	}
	return out
}
