// Package finding defines what a scan reports: findings with a severity and a
// rule, pickle imports with a safety level, and the rule catalogue that says
// once what each rule means.
package finding

import (
	"fmt"
	"strings"
)

// Severity orders findings. Every finding is reported whatever its severity;
// the severity decides only whether a scan fails (see --fail-on).
type Severity int

// Severities, least to most severe.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want critical, high, medium, low or info)", s)
}

// MarshalText encodes the severity by name, so JSON and TOML carry "high", not 3.
func (s Severity) MarshalText() ([]byte, error) {
	if s < Info || s > Critical {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Safety is the level given to a pickle import, the same three levels the
// model hub shows for its pickle import scan.
type Safety int

// Safety levels, safest first.
const (
	Innocuous Safety = iota
	Suspicious
	Dangerous
)

var safetyNames = [...]string{"innocuous", "suspicious", "dangerous"}

func (s Safety) String() string {
	if s < Innocuous || s > Dangerous {
		return fmt.Sprintf("safety(%d)", int(s))
	}
	return safetyNames[s]
}

// ParseSafety accepts a safety name in any case.
func ParseSafety(s string) (Safety, error) {
	for i, n := range safetyNames {
		if strings.EqualFold(s, n) {
			return Safety(i), nil
		}
	}
	return Innocuous, fmt.Errorf("unknown safety level %q (want innocuous, suspicious or dangerous)", s)
}

// MarshalText encodes the level by name.
func (s Safety) MarshalText() ([]byte, error) {
	if s < Innocuous || s > Dangerous {
		return nil, fmt.Errorf("invalid safety %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a level name.
func (s *Safety) UnmarshalText(b []byte) error {
	v, err := ParseSafety(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
