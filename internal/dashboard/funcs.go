package dashboard

import (
	"fmt"
	"html/template"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/store"
)

var funcs = template.FuncMap{
	"severity": func(n int) string {
		if n == store.NoSeverity {
			return "none"
		}
		return finding.Severity(n).String()
	},
	"bytes": func(n int64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"offset": func(n int64) string {
		if n < 0 {
			return ""
		}
		return fmt.Sprintf("@%d", n)
	},
}
