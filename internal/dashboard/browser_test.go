package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $MODELGATE_CHROMIUM, or Debian's chromium.
// Without one the test fails in CI and is skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MODELGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium found (CI installs Debian's chromium through .ci/run)")
	}
	t.Skip("SKIP browser test: no chromium (apt-get install chromium, or set MODELGATE_CHROMIUM)")
	return ""
}

func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

// TestDashboardInChromium signs in through the form in a real headless
// Chromium, finds the flagged file on the overview, opens it, and checks
// its findings, imports and decompiled pickle are shown, in the DOM and in
// a screenshot; then checks the session cookie is out of scripts' reach,
// another tenant's scan is not shown, and signing out works.
func TestDashboardInChromium(t *testing.T) {
	s := newSite(t, "sqlite")
	ctx, cancel := browser(t)
	defer cancel()
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(id string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("text of #%s: %v", id, err)
		}
		return v
	}
	location := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	do(chromedp.Navigate(s.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("token")))
	if u := location(); !strings.HasSuffix(u, "/ui/login") {
		t.Fatalf("not sent to the login: %s", u)
	}
	do(chromedp.SendKeys(chromedp.ID("token"), s.acme), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("flagged")))
	flagged, tenant := text("flagged"), text("tenant")
	if tenant != "acme" || !strings.Contains(flagged, `evil<script>alert("x")</script>.bin`) || !strings.Contains(flagged, "CRITICAL") {
		t.Fatalf("flagged section (tenant %q): %q", tenant, flagged)
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	if err != nil {
		t.Fatal(err)
	}
	if scripts != 0 {
		t.Errorf("%d script elements on the page: a file name was not escaped", scripts)
	}
	cookieSeen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if cookieSeen != "" {
		t.Errorf("the session cookie is readable by scripts: %q", cookieSeen)
	}

	savePage(t, ctx, "overview.png")

	// Open the flagged file.
	do(chromedp.Click(chromedp.CSS("#flagged a")), chromedp.WaitVisible(chromedp.ID("findings")))
	findings, imports, listing, decision := text("findings"), text("imports"), text("listings"), text("decision")
	for _, want := range []string{"CRITICAL", "PICKLE-DANGEROUS-GLOBAL", "posix.system('echo pwned')", "imports posix.system"} {
		if !strings.Contains(findings, want) {
			t.Errorf("findings section lacks %q: %q", want, findings)
		}
	}
	if !strings.Contains(imports, "posix.system") || !strings.Contains(imports, "DANGEROUS") {
		t.Errorf("imports section: %q", imports)
	}
	if !strings.Contains(listing, "import posix") || !strings.Contains(listing, "posix.system('echo pwned')") {
		t.Errorf("decompiled pickle: %q", listing)
	}
	if strings.TrimSpace(decision) != "DENY" {
		t.Errorf("decision %q", decision)
	}
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("findings")))
	if err != nil {
		t.Fatal(err)
	}
	checkScreenshot(t, shot)
	savePage(t, ctx, "scan.png")

	// Another tenant's scan is not found, even by its address.
	do(chromedp.Navigate(fmt.Sprintf("%s/ui/scans/%d", s.url, s.betaID)), chromedp.WaitVisible(chromedp.ID("error-message")))
	if msg := text("error-message"); !strings.Contains(msg, "No such scan") {
		t.Errorf("beta's scan: %q", msg)
	}

	// Sign out: back to the login, and the overview needs signing in again.
	do(chromedp.Navigate(s.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("logout")), chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("token")), chromedp.Navigate(s.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("token")))
	if u := location(); !strings.HasSuffix(u, "/ui/login") {
		t.Errorf("after signing out: %s", u)
	}
}

// savePage keeps a screenshot of the whole page in $MODELGATE_SCREENSHOTS,
// for people to look at.
func savePage(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("MODELGATE_SCREENSHOTS")
	if dir == "" {
		return
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name), shot, 0o644)
}

// checkScreenshot decodes the findings section's screenshot and checks it
// is a real rendering: a sensible size, many colours, and the critical
// badge's red among them.
func checkScreenshot(t *testing.T, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if dir := os.Getenv("MODELGATE_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "findings.png"), shot, 0o644)
	}
	bnd := img.Bounds()
	if bnd.Dx() < 300 || bnd.Dy() < 60 {
		t.Fatalf("screenshot is %dx%d", bnd.Dx(), bnd.Dy())
	}
	colours := map[[3]uint32]int{}
	red := 0
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			colours[[3]uint32{r, g, b}]++
			if isCriticalRed(r, g, b) {
				red++
			}
		}
	}
	if len(colours) < 20 {
		t.Errorf("screenshot has %d colours: nothing rendered?", len(colours))
	}
	// The badge is the .sev-critical background, #b3001b.
	if red < 100 {
		t.Errorf("screenshot shows %d pixels of the critical badge's red; the finding's severity is not visible", red)
	}
	t.Logf("findings screenshot %dx%d, %d colours, %d badge pixels", bnd.Dx(), bnd.Dy(), len(colours), red)
}

func isCriticalRed(r, g, b uint32) bool {
	return r > 150 && r < 210 && g < 30 && b < 60
}
