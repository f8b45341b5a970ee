package finding

import (
	"regexp"
	"testing"
)

// TestCatalogue: every rule is complete, so reports and SARIF can explain
// every finding.
func TestCatalogue(t *testing.T) {
	id := regexp.MustCompile(`^[A-Z0-9]+(-[A-Z0-9]+)+$`)
	c := Default()
	if len(c.Rules()) < 100 {
		t.Fatalf("only %d rules", len(c.Rules()))
	}
	for _, r := range c.Rules() {
		if !id.MatchString(r.ID) || r.Title == "" || r.Why == "" || r.Fix == "" {
			t.Errorf("incomplete rule %+v", r)
		}
		if r.Severity < Info || r.Severity > Critical {
			t.Errorf("%s: severity %d", r.ID, r.Severity)
		}
		if got, ok := c.Lookup(r.ID); !ok || got.ID != r.ID {
			t.Errorf("%s: lookup failed", r.ID)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate rule ID was accepted")
		}
	}()
	NewCatalogue([]Rule{{ID: "A-B"}}, []Rule{{ID: "A-B"}})
}

func TestSeverityAndSafetyText(t *testing.T) {
	for s := Info; s <= Critical; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%s round trip: %v %v", s, back, err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("bad severity accepted")
	}
	if s, err := ParseSeverity("HIGH"); err != nil || s != High {
		t.Error("case-insensitive parse failed")
	}
	for s := Innocuous; s <= Dangerous; s++ {
		b, _ := s.MarshalText()
		var back Safety
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%s round trip", s)
		}
	}
	if _, err := Severity(9).MarshalText(); err == nil {
		t.Error("invalid severity marshalled")
	}
}
