// Package version holds the scanner's version. Verdicts are cached by
// (sha256, scanner version, policy version), so Scanner changes whenever
// an analyzer's judgement could change.
package version

// Version is the release version of modelgate.
const Version = "0.1.0"

// Scanner versions the analysis itself; bump it when any analyzer or the
// default policy changes what a file's verdict could be.
const Scanner = "2026.11.1"
