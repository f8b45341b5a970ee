package policy

import (
	"strings"

	"modelgate/internal/finding"
)

// Verdict is the policy's judgement of one global.
type Verdict struct {
	Safety finding.Safety
	// Reason says in a few words why, for finding messages.
	Reason string
	// Wrapper is the index of the argument a wrapper calls, or -1.
	Wrapper int
	// Loader is set for callables that load the bytes they are given.
	Loader bool
	// Resolver lists the module prefixes a resolver may resolve from.
	Resolver []string
	// Listed reports that a list entry matched (false: unknown global).
	Listed bool
}

// Classify judges the global module.name. name may be dotted (protocol 4
// qualified names): then every module path it passes through is checked
// against the dangerous lists, and only an exact innocuous entry can make
// it innocuous.
func (p *Policy) Classify(module, name string) Verdict {
	qual := module + "." + name
	v := Verdict{Wrapper: -1}
	if w, ok := p.wrappers[qual]; ok {
		v.Wrapper = w
	}
	v.Loader = p.loaders[qual]
	v.Resolver = p.resolvers[qual]

	if matchAny(neverAllow, qual) {
		v.Safety, v.Reason, v.Listed = finding.Dangerous, "runs code (never allowed)", true
		return v
	}
	if d := dunderPart(module, name); d != "" && !p.exactInnocuous(qual) {
		v.Safety, v.Reason, v.Listed = finding.Dangerous, "reaches the special attribute "+d, true
		return v
	}
	dotted := strings.Contains(name, ".")
	s, listed := p.lookup(qual, dotted)
	if dotted {
		// posixpath + "os.system" is os.system: judge every path the
		// attribute walk passes through.
		parts := strings.Split(name, ".")
		for i := range parts {
			sub := strings.Join(parts[i:], ".")
			if strings.Contains(sub, ".") || i > 0 {
				if ss, ok := p.lookup(sub, false); ok && ss == finding.Dangerous {
					v.Safety, v.Reason, v.Listed = finding.Dangerous, "dotted name reaches "+sub, true
					return v
				}
			}
			if matchAny(neverAllow, sub) {
				v.Safety, v.Reason, v.Listed = finding.Dangerous, "dotted name reaches "+sub, true
				return v
			}
		}
	}
	if !listed {
		v.Safety, v.Reason = finding.Suspicious, "not on the allowlist"
		return v
	}
	v.Safety, v.Listed = s, true
	switch s {
	case finding.Dangerous:
		v.Reason = "known to run code or reach the system"
	case finding.Suspicious:
		v.Reason = "listed as suspicious"
	default:
		v.Reason = "allowlisted"
	}
	return v
}

// lookup finds the deciding list entry for qual: the latest layer that has
// one wins; within a layer an exact entry beats a pattern, a longer pattern
// beats a shorter one, and dangerous beats innocuous at equal length.
// Patterns never make a dotted name innocuous.
func (p *Policy) lookup(qual string, dotted bool) (finding.Safety, bool) {
	for i := len(p.layers) - 1; i >= 0; i-- {
		l := &p.layers[i]
		if s, ok := l.exact[qual]; ok {
			return s, true
		}
		best, bestLen, found := finding.Innocuous, -1, false
		for _, pt := range l.patterns {
			if !strings.HasPrefix(qual, pt.prefix) {
				continue
			}
			if dotted && pt.safety == finding.Innocuous {
				continue
			}
			if n := len(pt.prefix); n > bestLen || (n == bestLen && pt.safety > best) {
				best, bestLen, found = pt.safety, n, true
			}
		}
		if found {
			return best, true
		}
	}
	return finding.Suspicious, false
}

func (p *Policy) exactInnocuous(qual string) bool {
	for i := len(p.layers) - 1; i >= 0; i-- {
		if s, ok := p.layers[i].exact[qual]; ok {
			return s == finding.Innocuous
		}
	}
	return false
}

// IsDangerous reports whether a qualified name is on a dangerous list.
func (p *Policy) IsDangerous(qual string) bool {
	s, ok := p.lookup(qual, false)
	return ok && s == finding.Dangerous
}

func matchAny(pats []string, qual string) bool {
	for _, pt := range pats {
		if strings.HasSuffix(pt, "*") {
			if strings.HasPrefix(qual, strings.TrimSuffix(pt, "*")) {
				return true
			}
		} else if qual == pt {
			return true
		}
	}
	return false
}

// dunderPart returns the first __special__ component of a global's module
// or name, other than __main__ and __builtin__ as module names.
func dunderPart(module, name string) string {
	for i, part := range strings.Split(module, ".") {
		if i == 0 && (part == "__main__" || part == "__builtin__" || part == "__torch__") {
			continue
		}
		if isDunder(part) {
			return part
		}
	}
	for _, part := range strings.Split(name, ".") {
		if isDunder(part) {
			return part
		}
	}
	return ""
}

func isDunder(s string) bool {
	return len(s) > 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__")
}
