// Package chatjson analyzes JSON documents that carry a chat template:
// Hugging Face tokenizer_config.json, chat_template.json and
// processor_config.json. transformers renders "chat_template" with Jinja
// when a model is used for chat, and other loaders (text-generation
// servers, llama.cpp's converters) copy it into their own formats, so every
// template is checked for template injection (internal/jinja).
//
// The analyzer matches JSON objects that contain a chat_template key, by
// content. Other JSON stays for other analyzers (repository configs with
// auto_map and the like are checked elsewhere); the exported helpers let
// them reuse the detection and the template walk.
package chatjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/jinja"
	"modelgate/internal/limits"
)

// MaxSize bounds the JSON documents matched and read (64 MiB; tokenizer
// configs are kilobytes to a few megabytes).
const MaxSize = 64 << 20

// Key is the key that holds a chat template.
const Key = "chat_template"

// Analyzer is the chat-template JSON analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "json" }

// Match implements format.Analyzer: a JSON object (after an optional BOM
// and whitespace) that holds a string spelling chat_template.
func (*Analyzer) Match(p *format.Probe) bool {
	return p.Size <= MaxSize && IsObject(p.Head) && HasKey(p.R, p.Size, Key)
}

// IsObject reports whether head starts a JSON object.
func IsObject(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	return len(head) > 0 && head[0] == '{'
}

// HasKey reports whether the content holds a JSON string equal to key,
// decoding escapes ("chat\u005ftemplate" is the same key to Python's json
// module). It reads the content once, in chunks, and allocates only for
// short strings with escapes.
func HasKey(r io.ReaderAt, size int64, key string) bool {
	const chunk = 256 << 10
	buf := make([]byte, chunk)
	var str []byte // the current string's raw bytes, while short
	in, esc, long := false, false, false
	for off := int64(0); off < size; off += chunk {
		n, err := r.ReadAt(buf[:min(chunk, size-off)], off)
		for _, c := range buf[:n] {
			switch {
			case !in:
				if c == '"' {
					in, esc, long, str = true, false, false, str[:0]
				}
			case esc:
				esc = false
				if !long {
					str = append(str, c)
				}
			case c == '\\':
				esc = true
				if !long {
					str = append(str, c)
				}
			case c == '"':
				in = false
				if !long && matchesKey(str, key) {
					return true
				}
			default:
				if !long {
					str = append(str, c)
					long = len(str) > 8*len(key) // "\uXXXX" per character at most
				}
			}
		}
		if err != nil && n == 0 {
			return false
		}
	}
	return false
}

func matchesKey(raw []byte, key string) bool {
	if string(raw) == key {
		return true
	}
	if !bytes.Contains(raw, []byte{'\\'}) {
		return false
	}
	s, err := strconv.Unquote(`"` + string(raw) + `"`)
	return err == nil && s == key
}

// Template is one chat template found in a JSON document.
type Template struct {
	// Name is the template's name for the list form, or "".
	Name string
	Text string
	// Offset is where the JSON string holding it starts.
	Offset int64
}

// FindTemplates walks a JSON document and returns every chat template in
// it: a chat_template key at any depth whose value is a string, a list of
// {"name", "template"} objects, or an object of name to string. Duplicate
// keys are all returned (Python keeps the last, other parsers the first).
func FindTemplates(data []byte) ([]Template, error) {
	if !utf8.Valid(data) {
		return nil, &format.Error{Off: int64(invalidUTF8At(data)), Msg: "JSON is not valid UTF-8"}
	}
	// A BOM breaks Python's json.load, but some readers skip it: check
	// what follows it either way.
	bom := int64(0)
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		data, bom = data[3:], 3
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &walker{dec: dec, data: data}
	defer func() {
		for i := range w.found {
			w.found[i].Offset += bom
		}
	}()
	if err := w.value(0, false, ""); err != nil {
		return w.found, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return w.found, &format.Error{Off: dec.InputOffset(), Msg: "data after the JSON document"}
	}
	return w.found, nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

// maxDepth bounds nesting (encoding/json allows 10000).
const maxDepth = 512

type walker struct {
	dec   *json.Decoder
	data  []byte
	found []Template
}

func (w *walker) syntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &format.Error{Off: se.Offset, Msg: "invalid JSON: " + se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &format.Error{Off: w.dec.InputOffset(), Msg: "JSON ends early"}
	}
	return &format.Error{Off: w.dec.InputOffset(), Msg: "invalid JSON: " + err.Error()}
}

// value reads one value. inTemplate marks the value of a chat_template
// key (list form: depth of its items); name is the list item's name.
func (w *walker) value(depth int, template bool, name string) error {
	if depth > maxDepth {
		return limits.Exceeded("JSONMaxDepth", int64(depth), maxDepth, w.dec.InputOffset())
	}
	start := w.valueStart()
	tok, err := w.dec.Token()
	if err != nil {
		return w.syntax(err)
	}
	switch t := tok.(type) {
	case string:
		if template {
			w.found = append(w.found, Template{Name: name, Text: t, Offset: start})
		}
	case json.Delim:
		switch t {
		case '{':
			return w.object(depth, template)
		case '[':
			for w.dec.More() {
				if err := w.value(depth+1, template, name); err != nil {
					return err
				}
			}
			if _, err := w.dec.Token(); err != nil {
				return w.syntax(err)
			}
		}
	}
	return nil
}

// object reads an object's members after its "{". Inside a chat_template
// value an object is a {"name": …, "template": …} item or a map of name
// to template; elsewhere only chat_template keys hold templates.
func (w *walker) object(depth int, template bool) error {
	itemName := ""
	var item []Template // the item's "template" value(s), named at the end
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return w.syntax(err)
		}
		key, _ := tok.(string)
		if !template {
			if err := w.value(depth+1, key == Key, ""); err != nil {
				return err
			}
			continue
		}
		before := len(w.found)
		if err := w.value(depth+1, true, key); err != nil {
			return err
		}
		switch key {
		case "name":
			if len(w.found) == before+1 {
				itemName = w.found[before].Text
			}
			w.found = w.found[:before]
		case "template":
			item = append(item, w.found[before:]...)
			w.found = w.found[:before]
		}
	}
	if _, err := w.dec.Token(); err != nil {
		return w.syntax(err)
	}
	for _, t := range item {
		t.Name = itemName
		w.found = append(w.found, t)
	}
	return nil
}

// valueStart returns the offset of the next value: after the decoder's
// position, past whitespace, a colon or a comma.
func (w *walker) valueStart() int64 {
	off := w.dec.InputOffset()
	for off < int64(len(w.data)) {
		switch w.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	if in.Size > MaxSize {
		return limits.Exceeded("MaxJSONSize", in.Size, MaxSize, -1)
	}
	data := make([]byte, in.Size)
	if _, err := in.R.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	templates, perr := FindTemplates(data)
	var firstErr error
	for _, t := range templates {
		where := fmt.Sprintf("JSON %q", Key)
		if t.Name != "" {
			where = fmt.Sprintf("JSON %q (template %q)", Key, t.Name)
		}
		res, err := jinja.Check(ctx, t.Text, jinja.Options{})
		// Offsets inside a JSON string do not map to file bytes
		// (escapes), so findings point at the string.
		for _, f := range res.Findings(in.Rules, where, finding.NoOffset) {
			f.Offset = t.Offset
			out.Finding(f)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", where, err)
		}
	}
	if perr != nil {
		return perr
	}
	return firstErr
}
