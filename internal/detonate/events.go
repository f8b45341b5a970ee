package detonate

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
)

// Event is one line the loader script wrote on the audit descriptor. It is
// attacker-influenced (the payload runs in the same interpreter and can
// write to the descriptor too): every field is a bounded string and nothing
// in it is trusted beyond being evidence.
type Event struct {
	// Ev is the audit event ("os.system", "pickle.find_class", …) or one
	// of the loader's own: start, loaded, load-error, loader-unavailable,
	// truncated.
	Ev string `json:"ev"`
	// Args describe the event's arguments, rendered by the loader from
	// their types, never through their own __repr__.
	Args []string `json:"args,omitempty"`
	// Module and Name are set for imports and pickle.find_class.
	Module string `json:"module,omitempty"`
	Name   string `json:"name,omitempty"`
	// Ctx names the library module whose import was running when the
	// event fired ("" outside library imports).
	Ctx string `json:"ctx,omitempty"`
	// Phase is "load" while the loader runs, "exit" after it returned
	// (finalizers, atexit handlers).
	Phase string `json:"ph,omitempty"`
	// Raw is a Python 2 global as the file wrote it, when find_class
	// renames it (Module and Name are then the renamed global).
	Raw string `json:"raw,omitempty"`
	// Tmp marks a write inside a temporary file or folder the load made
	// with the tempfile module.
	Tmp bool `json:"tmp,omitempty"`
	// For start, loaded, load-error, loader-unavailable.
	Loader  string `json:"loader,omitempty"`
	Python  string `json:"python,omitempty"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
}

// Limits on what the parent reads from the audit descriptor.
const (
	MaxEvents    = 20000
	maxKeptBytes = 8 << 20 // of all kept fields together
	maxLineBytes = 64 << 10
	maxField     = 1024
	maxArgs      = 16
)

// ErrTooManyEvents reports that events past MaxEvents were dropped.
var ErrTooManyEvents = errors.New("detonate: too many audit events; the rest were not read")

// ParseEvents reads the audit stream: one JSON object per line. Lines that
// are not JSON objects, or too long, are skipped and counted in bad; fields
// are cut to bounded sizes. It reads to the end of r (so the writer never
// blocks) but keeps at most MaxEvents, returning ErrTooManyEvents if it
// dropped any.
func ParseEvents(r io.Reader) (events []Event, bad int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	dropped := false
	kept := 0
	for {
		line, tooLong, rerr := readLine(br)
		if len(line) > 0 || tooLong {
			switch {
			case tooLong:
				bad++
			case len(events) >= MaxEvents || kept >= maxKeptBytes:
				dropped = true
			default:
				var e Event
				if json.Unmarshal(line, &e) != nil || e.Ev == "" {
					bad++
				} else {
					e = e.bounded()
					kept += e.size()
					events = append(events, e)
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return events, bad, rerr
		}
	}
	if dropped {
		return events, bad, ErrTooManyEvents
	}
	return events, bad, nil
}

// readLine returns the next line without its newline; a line longer than
// maxLineBytes is consumed and reported as tooLong, not returned.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, isPrefix, err := br.ReadLine()
		if !tooLong {
			if len(line)+len(chunk) > maxLineBytes {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err != nil || !isPrefix {
			return line, tooLong, err
		}
	}
}

func (e Event) bounded() Event {
	cut := func(s string) string {
		if len(s) > maxField {
			return s[:maxField] + "…"
		}
		return s
	}
	e.Ev, e.Module, e.Name, e.Ctx, e.Raw = cut(e.Ev), cut(e.Module), cut(e.Name), cut(e.Ctx), cut(e.Raw)
	e.Phase, e.Loader, e.Python, e.Type, e.Message = cut(e.Phase), cut(e.Loader), cut(e.Python), cut(e.Type), cut(e.Message)
	if len(e.Args) > maxArgs {
		e.Args = e.Args[:maxArgs]
	}
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = cut(a)
	}
	e.Args = args
	return e
}

func (e Event) size() int {
	n := len(e.Ev) + len(e.Raw) + len(e.Module) + len(e.Name) + len(e.Ctx) + len(e.Phase) + len(e.Loader) + len(e.Python) + len(e.Type) + len(e.Message)
	for _, a := range e.Args {
		n += len(a)
	}
	return n
}
