package hub

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors; an *Error matches the ones that describe it with
// errors.Is.
var (
	ErrNotFound         = errors.New("not found")
	ErrRepoNotFound     = errors.New("repository not found")
	ErrRevisionNotFound = errors.New("revision not found")
	ErrEntryNotFound    = errors.New("file not found")
	ErrUnauthorized     = errors.New("authentication required")
	ErrForbidden        = errors.New("access denied")
	ErrGated            = errors.New("gated repository")
	ErrRateLimited      = errors.New("rate limited")
	// ErrChecksum: downloaded content differs from the hash the hub
	// listed for it.
	ErrChecksum = errors.New("content does not match the hub's hash")
	// ErrNoRange: the server answered a Range request with the whole file.
	ErrNoRange = errors.New("server ignored the Range request")
)

// Error is an HTTP error answer from the hub.
type Error struct {
	Status int
	// Code is the X-Error-Code header: RepoNotFound, RevisionNotFound,
	// EntryNotFound, GatedRepo, …
	Code string
	// Message is the X-Error-Message header or the body's "error".
	Message string
	// URL is the request URL without its query.
	URL string
	// TokenSent says whether the request carried a token, which decides
	// what to advise.
	TokenSent bool
	// RetryAfter is how long a 429 asked to wait.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("hub: %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	s += ": " + msg
	if hint := e.hint(); hint != "" {
		s += " (" + hint + ")"
	}
	return s + " [" + e.URL + "]"
}

// hint says what the user can do about the error.
func (e *Error) hint() string {
	switch {
	case e.Code == "GatedRepo" && !e.TokenSent:
		return "the repository is gated: accept its conditions on the hub, then set HF_TOKEN"
	case e.Code == "GatedRepo":
		return "the repository is gated and this token has no access yet: accept its conditions on the hub with this account"
	case e.Code == "RepoNotFound" && !e.TokenSent:
		return "check the name; a private repository needs HF_TOKEN"
	case e.Status == http.StatusUnauthorized && !e.TokenSent:
		return "set HF_TOKEN (or log in with the official client) if the repository is private"
	case e.Status == http.StatusUnauthorized:
		return "the token was refused: check HF_TOKEN"
	case e.Status == http.StatusForbidden:
		return "this token may not read the repository"
	case e.Status == http.StatusTooManyRequests:
		if e.RetryAfter > 0 {
			return fmt.Sprintf("rate limited: retry in %s", e.RetryAfter.Round(time.Second))
		}
		return "rate limited: retry later"
	}
	return ""
}

// Is matches the sentinel errors.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrRepoNotFound:
		return e.Code == "RepoNotFound"
	case ErrRevisionNotFound:
		return e.Code == "RevisionNotFound"
	case ErrEntryNotFound:
		return e.Code == "EntryNotFound"
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrGated:
		return e.Code == "GatedRepo"
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}
