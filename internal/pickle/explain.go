package pickle

import (
	"fmt"
	"strings"
)

// Decompiler is a Visitor that writes what a load would do as readable
// pseudo-Python, one statement per import, call and state update, each with
// the byte offset and opcode that caused it:
//
//	import os                                  # @2 GLOBAL
//	_var0 = os.system('echo pwned')            # @30 REDUCE
//	result = _var0                             # @31 STOP
type Decompiler struct {
	b        strings.Builder
	names    map[*Value]string
	imported map[string]bool
	next     int
	lines    int
	// MaxLines bounds the listing (default 20,000); the rest is counted.
	MaxLines int
	dropped  int
	stream   int
	render   Renderer
	// Annotate, if set, may return a comment for a global (e.g. its safety).
	Annotate func(g *Global) string
}

// NewDecompiler returns an empty decompiler.
func NewDecompiler() *Decompiler {
	d := &Decompiler{names: map[*Value]string{}, imported: map[string]bool{}, MaxLines: 20000}
	d.render = Renderer{Max: 300, Name: func(v *Value) string { return d.names[v] }}
	return d
}

// String returns the listing so far.
func (d *Decompiler) String() string {
	if d.dropped > 0 {
		return d.b.String() + fmt.Sprintf("# … %d more statements not shown\n", d.dropped)
	}
	return d.b.String()
}

func (d *Decompiler) line(stmt string, off int64, op Op, note string) {
	if d.lines >= d.MaxLines {
		d.dropped++
		return
	}
	d.lines++
	comment := fmt.Sprintf("# @%d %s", off, op)
	if note != "" {
		comment += "  " + note
	}
	pad := 44 - len(stmt)
	if pad < 1 {
		pad = 1
	}
	d.b.WriteString(stmt)
	d.b.WriteString(strings.Repeat(" ", pad))
	d.b.WriteString(comment)
	d.b.WriteByte('\n')
}

func (d *Decompiler) name(v *Value) string {
	n := fmt.Sprintf("_var%d", d.next)
	d.next++
	d.names[v] = n
	return n
}

// StreamStart implements Visitor.
func (d *Decompiler) StreamStart(off int64) {
	if d.stream > 0 {
		d.b.WriteByte('\n')
	}
	d.stream++
	fmt.Fprintf(&d.b, "# pickle stream %d at offset %d\n", d.stream, off)
	clear(d.imported)
}

// StreamEnd implements Visitor.
func (d *Decompiler) StreamEnd(s *Stream) {
	if s.Err != nil {
		fmt.Fprintf(&d.b, "# the load stops here: %s\n", s.Err.Msg)
		return
	}
	if s.Result != nil {
		d.line("result = "+d.render.Repr(s.Result), s.End-1, STOP, "")
	}
}

// Global implements Visitor.
func (d *Decompiler) Global(g *Global) {
	note := ""
	if d.Annotate != nil {
		note = d.Annotate(g)
	}
	if g.RawModule != "" {
		note = strings.TrimSpace(fmt.Sprintf("(written as %s.%s) %s", g.RawModule, g.RawName, note))
	}
	switch {
	case g.ExtCode != 0:
		d.line(fmt.Sprintf("# extension code %d from copyreg's registry", g.ExtCode), g.Off, g.Op, note)
	case g.Computed:
		d.line(fmt.Sprintf("# import computed at load time: %s", GlobalExpr(g)), g.Off, g.Op, note)
	default:
		if d.imported[g.Module] && note == "" {
			return
		}
		d.imported[g.Module] = true
		d.line("import "+g.Module, g.Off, g.Op, note)
	}
}

// Call implements Visitor.
func (d *Decompiler) Call(c *Call) {
	if c.Method != "" {
		target := d.render.Repr(c.Callee)
		var stmt string
		switch c.Method {
		case "__setitem__":
			var parts []string
			for i := 0; c.Args != nil && i+1 < len(c.Args.Items); i += 2 {
				parts = append(parts, fmt.Sprintf("%s[%s] = %s", target, d.render.Repr(c.Args.Items[i]), d.render.Repr(c.Args.Items[i+1])))
			}
			stmt = strings.Join(parts, "; ")
		default:
			stmt = fmt.Sprintf("%s.%s(%s)", target, c.Method, d.argList(c.Args))
		}
		d.line(stmt, c.Off, c.Op, "")
		return
	}
	expr := d.render.CallExpr(c)
	if c.Result != nil {
		d.line(d.name(c.Result)+" = "+expr, c.Off, c.Op, "")
		return
	}
	d.line(expr, c.Off, c.Op, "")
}

func (d *Decompiler) argList(t *Value) string {
	if t == nil {
		return ""
	}
	var parts []string
	for _, a := range t.Items {
		parts = append(parts, d.render.Repr(a))
	}
	return strings.Join(parts, ", ")
}

// Build implements Visitor.
func (d *Decompiler) Build(obj, state *Value, off int64) {
	d.line(fmt.Sprintf("%s.__setstate__(%s)", d.render.Repr(obj), d.render.Repr(state)), off, BUILD, "")
}

// Persistent implements Visitor.
func (d *Decompiler) Persistent(pid, result *Value, off int64) {
	d.line(fmt.Sprintf("%s = persistent_load(%s)", d.name(result), d.render.Repr(pid)), off, BINPERSID, "")
}

// Anomaly implements Visitor.
func (d *Decompiler) Anomaly(off int64, op Op, msg string) {
	d.line("# "+msg, off, op, "")
}

// Tee sends every event to each visitor in turn.
type Tee []Visitor

func (t Tee) Global(g *Global) {
	for _, v := range t {
		v.Global(g)
	}
}
func (t Tee) Call(c *Call) {
	for _, v := range t {
		v.Call(c)
	}
}
func (t Tee) Build(obj, state *Value, off int64) {
	for _, v := range t {
		v.Build(obj, state, off)
	}
}
func (t Tee) Persistent(pid, res *Value, off int64) {
	for _, v := range t {
		v.Persistent(pid, res, off)
	}
}
func (t Tee) Anomaly(off int64, op Op, msg string) {
	for _, v := range t {
		v.Anomaly(off, op, msg)
	}
}
func (t Tee) StreamStart(off int64) {
	for _, v := range t {
		v.StreamStart(off)
	}
}
func (t Tee) StreamEnd(s *Stream) {
	for _, v := range t {
		v.StreamEnd(s)
	}
}
