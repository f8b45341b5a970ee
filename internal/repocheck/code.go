package repocheck

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/pysrc"
	"modelgate/internal/scan"
)

// pyFile is an analyzed Python file.
type pyFile struct {
	entry scan.Entry
	res   *pysrc.Result
	// loadedBy names the config whose auto_map loads the file (directly
	// or through relative imports), or "".
	loadedBy string
}

// autoMap is a reference from a config to code.
type autoMap struct {
	config scan.Entry
	key    string // "AutoModel", "custom_pipelines.text-generation"
	ref    string // "modeling_x.XModel" or "org/repo--modeling_x.XModel"
}

func (r *run) python(e scan.Entry, data []byte) {
	if len(data) > MaxPython {
		r.emit(r.finding(finding.RulePythonUnreadable, e, "the Python file is over the size limit; its calls were not listed", "", finding.NoOffset))
		return
	}
	pf := &pyFile{entry: e, res: pysrc.Analyze(data)}
	r.mu.Lock()
	r.py[e.Path] = pf
	r.mu.Unlock()
}

// configJSON collects auto_map and custom_pipelines references.
func (r *run) configJSON(e scan.Entry, data []byte) {
	if len(data) > MaxJSON {
		return
	}
	var cfg struct {
		AutoMap         map[string]json.RawMessage `json:"auto_map"`
		CustomPipelines map[string]struct {
			Impl string `json:"impl"`
		} `json:"custom_pipelines"`
	}
	if json.Unmarshal(data, &cfg) != nil {
		return // not a JSON object with these keys
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, raw := range cfg.AutoMap {
		var one string
		var many []*string
		switch {
		case json.Unmarshal(raw, &one) == nil:
			r.maps = append(r.maps, autoMap{config: e, key: key, ref: one})
		case json.Unmarshal(raw, &many) == nil:
			for _, s := range many {
				if s != nil && *s != "" {
					r.maps = append(r.maps, autoMap{config: e, key: key, ref: *s})
				}
			}
		}
	}
	for task, p := range cfg.CustomPipelines {
		if p.Impl != "" {
			r.maps = append(r.maps, autoMap{config: e, key: "custom_pipelines." + task, ref: p.Impl})
		}
	}
}

// customCode reports auto_map references and every Python file, with the
// severity of its calls depending on whether loading the model runs it.
func (r *run) customCode() {
	slices.SortStableFunc(r.maps, func(a, b autoMap) int {
		return strings.Compare(a.config.Path+"\x00"+a.key, b.config.Path+"\x00"+b.key)
	})
	byConfig := map[string][]string{}
	var order []scan.Entry
	for _, m := range r.maps {
		if strings.Contains(m.ref, "--") {
			repo, ref, _ := strings.Cut(m.ref, "--")
			r.emit(r.finding(finding.RuleAutoMapCrossRepo, m.config,
				fmt.Sprintf("auto_map %s loads %s from the repository %s, at whatever revision that repository has when the model is loaded", m.key, ref, repo),
				fmt.Sprintf("%q: %q", m.key, m.ref), finding.NoOffset))
			continue
		}
		module, _, ok := cutLast(m.ref, ".")
		if !ok || module == "" {
			continue
		}
		file := join(dirName(m.config.Path), strings.ReplaceAll(module, ".", "/")+".py")
		if _, ok := r.byPath[file]; !ok {
			r.emit(r.finding(finding.RuleAutoMapMissing, m.config,
				fmt.Sprintf("auto_map %s names %s, which is not in the repository", m.key, baseName(file)),
				fmt.Sprintf("%q: %q", m.key, m.ref), finding.NoOffset))
			continue
		}
		if len(byConfig[m.config.Path]) == 0 {
			order = append(order, m.config)
		}
		if !slices.Contains(byConfig[m.config.Path], file) {
			byConfig[m.config.Path] = append(byConfig[m.config.Path], file)
		}
		r.markLoaded(file, m.config.Path)
	}
	for _, cfg := range order {
		files := byConfig[cfg.Path]
		names := make([]string, len(files))
		for i, f := range files {
			names[i] = baseName(f)
		}
		r.emit(r.finding(finding.RuleAutoMap, cfg,
			"loading this model with trust_remote_code=True imports "+strings.Join(names, ", ")+" (and the files they import); their code is listed under CODE-PYTHON-* findings",
			"auto_map → "+strings.Join(names, ", "), finding.NoOffset))
	}
	paths := make([]string, 0, len(r.py))
	for p := range r.py {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		r.pythonFindings(r.py[p])
	}
}

// markLoaded marks a file, and the files it imports relatively, as run
// when the model loads.
func (r *run) markLoaded(file, config string) {
	queue := []string{file}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		pf := r.py[f]
		if pf == nil || pf.loadedBy != "" {
			continue
		}
		pf.loadedBy = config
		for _, ri := range pf.res.Relative {
			base := dirName(f)
			for i := 1; i < ri.Level && base != ""; i++ {
				base = dirName(base)
			}
			if ri.Module != "" {
				mod := join(base, strings.ReplaceAll(ri.Module, ".", "/"))
				queue = append(queue, mod+".py", mod+"/__init__.py")
				continue
			}
			for _, n := range ri.Names {
				queue = append(queue, join(base, n+".py"), join(base, n+"/__init__.py"))
			}
		}
	}
}

// ruleOf maps call categories to rules.
var ruleOf = map[pysrc.Category]string{
	pysrc.Exec:        finding.RulePythonExec,
	pysrc.Network:     finding.RulePythonNetwork,
	pysrc.Deserialize: finding.RulePythonDeserialize,
	pysrc.RemoteCode:  finding.RulePythonRemoteCode,
}

func (r *run) pythonFindings(pf *pyFile) {
	e, res := pf.entry, pf.res
	loaded := pf.loadedBy != ""
	var calls []string
	for _, c := range res.Calls {
		where := fmt.Sprintf("line %d", c.Line)
		if c.AtImport {
			where += ", at import time"
		}
		msg := fmt.Sprintf("%s %s: %s", c.Name, c.Category, where)
		if c.Detail != "" {
			msg = fmt.Sprintf("%s %s (%s): %s", c.Name, c.Category, c.Detail, where)
		}
		if loaded {
			msg += "; runs when the model is loaded with trust_remote_code=True (auto_map in " + baseName(pf.loadedBy) + ")"
		}
		f := r.finding(ruleOf[c.Category], e, msg, c.Snippet, int64(c.Offset))
		switch {
		case !loaded && f.Severity > finding.Low:
			f.Severity--
		case loaded && c.AtImport && c.Category == pysrc.Network:
			f.Severity = finding.High // phones home as soon as the model loads
		}
		r.emit(f)
		if len(calls) < 20 {
			calls = append(calls, fmt.Sprintf("%s (line %d)", c.Name, c.Line))
		}
	}
	if res.Err != nil || res.Truncated {
		why := "a limit stopped the analysis"
		if res.Err != nil {
			why = res.Err.Error()
		}
		r.emit(r.finding(finding.RulePythonUnreadable, e, "the file was not read to the end: "+why, "", finding.NoOffset))
	}
	msg := "Python file"
	if loaded {
		msg += ", imported when the model is loaded with trust_remote_code=True (auto_map in " + baseName(pf.loadedBy) + ")"
	}
	if len(res.Calls) == 0 {
		msg += "; no code-running, network, deserialising or remote-code calls found"
	} else {
		msg += fmt.Sprintf("; %d notable calls", len(res.Calls))
	}
	ev := "imports: " + strings.Join(firstN(res.Imports, 30), ", ")
	if len(calls) > 0 {
		ev += "; calls: " + strings.Join(calls, ", ")
	}
	r.emit(r.finding(finding.RulePythonFile, e, msg, ev, finding.NoOffset))
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "…")
	}
	return s
}

func cutLast(s, sep string) (before, after string, ok bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
