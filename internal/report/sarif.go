package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"modelgate/internal/finding"
)

// SARIF 2.1.0, the subset GitHub code scanning reads. Written by hand: it
// is a few structs, and a library would add more than it saves.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Results     []sarifResult     `json:"results"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical          `json:"physicalLocation"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine  int    `json:"startLine,omitempty"`
	ByteOffset *int64 `json:"byteOffset,omitempty"`
}

type sarifLogicalLocation struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool `json:"executionSuccessful"`
}

// sarifLevel maps severities onto SARIF's three levels.
func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.Critical, finding.High:
		return "error"
	case finding.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score GitHub shows for security results.
func securitySeverity(s finding.Severity) string {
	return [...]string{"0.0", "3.0", "5.5", "8.0", "9.5"}[s]
}

// WriteSARIF writes the report as SARIF 2.1.0 with one result per finding.
func WriteSARIF(w io.Writer, r *Report, rules *finding.Catalogue) error {
	if rules == nil {
		rules = finding.Default()
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: r.Tool.Name, Version: r.Tool.Version,
			InformationURI: "https://github.com/modelgate/modelgate",
		}},
		Results:     []sarifResult{},
		Invocations: []sarifInvocation{{ExecutionSuccessful: true}},
		Properties:  map[string]any{"policyVersion": r.Policy.Version},
	}
	// Only the rules results refer to are described: GitHub needs those,
	// and the log stays about this scan.
	used := map[string]bool{}
	for _, f := range r.Files {
		for _, x := range f.Findings {
			used[x.Rule] = true
		}
	}
	index := map[string]int{}
	for _, rule := range rules.Rules() {
		if !used[rule.ID] {
			continue
		}
		index[rule.ID] = len(run.Tool.Driver.Rules)
		tags := []string{"security"}
		if rule.CWE != "" {
			tags = append(tags, "external/cwe/"+strings.ToLower(rule.CWE))
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: rule.ID, Name: ruleName(rule.ID),
			ShortDescription:     sarifText{Text: rule.Title},
			FullDescription:      sarifText{Text: rule.Why},
			Help:                 sarifText{Text: rule.Why + " " + rule.Fix, Markdown: "**" + rule.Title + "**\n\n" + rule.Why + "\n\n**What to do:** " + rule.Fix},
			DefaultConfiguration: sarifConfig{Level: sarifLevel(rule.Severity)},
			Properties:           map[string]any{"tags": tags, "security-severity": securitySeverity(rule.Severity), "precision": "high"},
		})
	}
	for _, f := range r.Files {
		uri := artifactURI(f.Path)
		for _, x := range f.Findings {
			msg := x.Message
			if x.Evidence != "" {
				msg += ": " + x.Evidence
			}
			region := &sarifRegion{StartLine: 1}
			if x.Offset >= 0 && x.Member == "" {
				off := x.Offset
				region = &sarifRegion{ByteOffset: &off}
			}
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: region}}
			if x.Member != "" {
				loc.LogicalLocations = []sarifLogicalLocation{{FullyQualifiedName: x.Member, Kind: "member"}}
			}
			h := sha256.Sum256([]byte(x.Rule + "\x00" + f.Path + "\x00" + x.Member + "\x00" + x.Evidence))
			props := map[string]any{"severity": x.Severity.String(), "security-severity": securitySeverity(x.Severity)}
			if f.SHA256 != "" {
				props["sha256"] = f.SHA256
			}
			if x.Member != "" {
				props["member"] = x.Member
			}
			if x.Offset >= 0 {
				props["offset"] = x.Offset
			}
			run.Results = append(run.Results, sarifResult{
				RuleID: x.Rule, RuleIndex: index[x.Rule], Level: sarifLevel(x.Severity),
				Message:             sarifText{Text: msg},
				Locations:           []sarifLocation{loc},
				PartialFingerprints: map[string]string{"modelgateFinding/v1": hex.EncodeToString(h[:16])},
				Properties:          props,
			})
		}
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

// ruleName turns PICKLE-DANGEROUS-GLOBAL into PickleDangerousGlobal.
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part == "" {
			continue
		}
		b.WriteString(part[:1])
		b.WriteString(strings.ToLower(part[1:]))
	}
	return b.String()
}

// artifactURI makes a SARIF URI: relative paths stay relative (GitHub
// resolves them against the repository), absolute ones become file URIs,
// and hf:// addresses are kept.
func artifactURI(p string) string {
	if strings.Contains(p, "://") {
		return p
	}
	slash := filepath.ToSlash(p)
	if filepath.IsAbs(p) {
		return (&url.URL{Scheme: "file", Path: slash}).String()
	}
	slash = strings.TrimPrefix(slash, "./")
	return (&url.URL{Path: slash}).String()
}
