package repocheck

import (
	"fmt"
	"io"

	"modelgate/internal/dockerfile"
	"modelgate/internal/finding"
	"modelgate/internal/hydra"
	"modelgate/internal/scan"
)

// dockerRule maps the dockerfile package's rules to the catalogue's.
var dockerRule = map[string]string{
	dockerfile.RuleMetadata:    finding.RuleDockerMetadata,
	dockerfile.RulePipeShell:   finding.RuleDockerPipeShell,
	dockerfile.RuleSocket:      finding.RuleDockerSocket,
	dockerfile.RuleCredentials: finding.RuleDockerCredentials,
	dockerfile.RuleReverse:     finding.RuleDockerReverse,
	dockerfile.RuleAddRemote:   finding.RuleDockerAddRemote,
	dockerfile.RuleSecretBaked: finding.RuleDockerSecret,
	dockerfile.RuleRoot:        finding.RuleDockerRoot,
	dockerfile.RuleParse:       finding.RuleDockerParse,
}

func (r *run) dockerfile(e scan.Entry, data []byte) {
	for _, is := range dockerfile.Check(data) {
		rule := dockerRule[is.Rule]
		off := finding.NoOffset
		msg := is.Message
		if is.Line > 0 {
			off = lineOffset(data, is.Line)
			msg = fmt.Sprintf("line %d: %s", is.Line, msg)
		}
		f := r.finding(rule, e, msg, is.Evidence, off)
		if is.Lower && f.Severity > finding.Info {
			f.Severity--
		}
		r.emit(f)
	}
}

// hydraFile checks a YAML or JSON file that mentions _target_.
func (r *run) hydraFile(e scan.Entry, data []byte) {
	ts, err := hydra.Targets(data, false)
	if err != nil {
		r.emit(r.finding(finding.RuleHydraUnreadable, e, "the config could not be read: "+err.Error(), "", finding.NoOffset))
		return
	}
	for _, t := range ts {
		r.target(e, "", t, data)
	}
}

// nemo checks the configs inside a tar archive (.nemo).
func (r *run) nemo(e scan.Entry, c io.ReaderAt) {
	ms, err := hydra.ArchiveConfigs(c, e.Size)
	if err != nil {
		r.emit(r.finding(finding.RuleHydraUnreadable, e, "the archive's configs could not all be read: "+err.Error(), "", finding.NoOffset))
	}
	for _, m := range ms {
		legacy := baseName(m.Name) == "model_config.yaml"
		ts, err := hydra.Targets(m.Data, legacy)
		if err != nil {
			f := r.finding(finding.RuleHydraUnreadable, e, "the config could not be read: "+err.Error(), "", finding.NoOffset)
			f.Member = m.Name
			r.emit(f)
			continue
		}
		for _, t := range ts {
			r.target(e, m.Name, t, m.Data)
		}
	}
}

// target judges one instantiated callable.
func (r *run) target(e scan.Entry, member string, t hydra.Target, data []byte) {
	v, why := hydra.Judge(r.repo.Policy, t.Target)
	if v == hydra.Allowed {
		return
	}
	rule := finding.RuleHydraUnlisted
	if v == hydra.Dangerous {
		rule = finding.RuleHydraDangerous
	}
	key := "_target_"
	if t.Legacy {
		key = "target"
	}
	where := t.Key
	if where == "" {
		where = "the top level"
	}
	msg := fmt.Sprintf("line %d: %s at %s instantiates %s (%s)", t.Line, key, where, t.Target, why)
	if t.Partial {
		msg += "; _partial_: true binds it for a later call"
	}
	f := r.finding(rule, e, msg, key+": "+t.Target, lineOffset(data, t.Line))
	f.Member = member
	r.emit(f)
}
