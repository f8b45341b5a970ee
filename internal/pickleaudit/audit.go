// Package pickleaudit judges what a pickle would do on load against the
// policy and reports findings and imports. Every analyzer of a
// pickle-carrying format (raw pickles, PyTorch, joblib, NumPy object
// arrays, …) runs its pickles through Audit.
package pickleaudit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/limits"
	"modelgate/internal/pickle"
	"modelgate/internal/policy"
)

// Options tailor the audit to the format carrying the pickle.
type Options struct {
	// Analyzer names the reporting analyzer in findings.
	Analyzer string
	// TorchScript treats __torch__.* names as TorchScript classes defined in
	// the archive's code/ folder rather than Python imports.
	TorchScript bool
	// Streams is how many pickle streams the format holds (0: one).
	Streams int
	// SingleStream stops after the first stream: the caller knows where
	// the pickle ends and reads what follows itself.
	SingleStream bool
	// PersistentID, if set, judges each persistent ID (PyTorch checks that
	// they are storage tuples). Without it each file notes them once.
	PersistentID func(pid *pickle.Value, off int64, out format.Emitter)
	// AfterBuild is passed to the machine (joblib's inline arrays).
	AfterBuild func(m *pickle.Machine, obj *pickle.Value) error
}

// Audit interprets every pickle stream in size bytes of r, reports findings
// and imports to out, and returns what the machine saw. Malformed streams
// and limits become findings; the error is for I/O and cancellation.
func Audit(ctx context.Context, in *format.Input, r io.ReaderAt, size int64, out format.Emitter, opts Options) (*pickle.Result, error) {
	j := newJudge(ctx, in, r, out, opts)
	var v pickle.Visitor = j
	var dec *pickle.Decompiler
	if in.Explain {
		dec = pickle.NewDecompiler()
		dec.Annotate = j.annotate
		v = pickle.Tee{j, dec}
	}
	lim := in.Limits
	if lim == nil {
		lim = limits.Default()
	}
	mopts := pickle.Options{Limits: lim, AfterBuild: opts.AfterBuild}
	var res *pickle.Result
	var err error
	if opts.SingleStream {
		m := pickle.NewMachine(r, 0, size, v, mopts)
		var st *pickle.Stream
		st, err = m.Run(ctx)
		res = &pickle.Result{}
		if st != nil {
			res.Streams = append(res.Streams, st)
		}
	} else {
		res, err = pickle.ScanAll(ctx, r, size, v, mopts)
	}
	j.finish(res)
	if dec != nil {
		out.Listing(dec.String())
	}
	if err != nil {
		if errors.Is(err, limits.ErrLimit) {
			f := j.cat.New(finding.RuleLimit, "pickle: "+err.Error()+"; what follows was not checked", "", offsetOf(err))
			j.emit(f)
			return res, nil
		}
		return res, err
	}
	return res, nil
}

func offsetOf(err error) int64 {
	var le *limits.Error
	if errors.As(err, &le) {
		return le.Offset
	}
	return finding.NoOffset
}

type globalRec struct {
	module, name string
	verdict      policy.Verdict
	safety       finding.Safety // judged safety of the global itself
	wrapped      finding.Safety // the most dangerous thing a wrapper wrapped
	off          int64
	count        int
	evidence     string // first call, rendered
	main         bool   // a __main__ class
	mainCalled   bool   // … called with arguments rather than instantiated
	torchScript  bool
}

type judge struct {
	ctx     context.Context
	in      *format.Input
	r       io.ReaderAt
	out     format.Emitter
	opts    Options
	pol     *policy.Policy
	cat     *finding.Catalogue
	recs    map[string]*globalRec
	order   []*globalRec
	byValue map[*pickle.Global]*globalRec
	render  pickle.Renderer
	pidSeen bool
	nested  int
}

func newJudge(ctx context.Context, in *format.Input, r io.ReaderAt, out format.Emitter, opts Options) *judge {
	pol := in.Policy
	if pol == nil {
		pol = policy.Default()
	}
	cat := in.Rules
	if cat == nil {
		cat = finding.Default()
	}
	if opts.Analyzer == "" {
		opts.Analyzer = "pickle"
	}
	return &judge{ctx: ctx, in: in, r: r, out: out, opts: opts, pol: pol, cat: cat,
		recs: map[string]*globalRec{}, byValue: map[*pickle.Global]*globalRec{}, render: pickle.Renderer{Max: 240}}
}

func (j *judge) emit(f finding.Finding) {
	if f.Analyzer == "" {
		f.Analyzer = j.opts.Analyzer
	}
	j.out.Finding(f)
}

func (j *judge) finding(rule, msg, evidence string, off int64) {
	j.emit(j.cat.New(rule, msg, evidence, off))
}

// Global implements pickle.Visitor.
func (j *judge) Global(g *pickle.Global) {
	switch {
	case g.ExtCode != 0:
		j.finding(finding.RulePickleExt, fmt.Sprintf("%s imports extension code %d: whatever the loading process registered", g.Op, g.ExtCode), pickle.GlobalExpr(g), g.Off)
		return
	case g.Computed:
		j.finding(finding.RulePickleComputed, fmt.Sprintf("%s imports a name computed at load time", g.Op), pickle.GlobalExpr(g), g.Off)
		return
	}
	key := g.Module + "\x00" + g.Name
	rec := j.recs[key]
	if rec == nil {
		rec = &globalRec{module: g.Module, name: g.Name, off: g.Off}
		switch {
		case j.opts.TorchScript && (g.Module == "__torch__" || strings.HasPrefix(g.Module, "__torch__.")):
			rec.torchScript = true
			rec.safety = finding.Innocuous
			rec.verdict = policy.Verdict{Wrapper: -1, Reason: "TorchScript class"}
		case g.Module == "__main__" && !strings.Contains(g.Name, ".") && !strings.HasPrefix(g.Name, "_"):
			// A class of the script that saved the file: loading needs the
			// same class in the loader's own __main__. Harmless when only
			// instantiated; suspicious when called with arguments.
			rec.main = true
			rec.safety = finding.Innocuous
			rec.verdict = policy.Verdict{Wrapper: -1, Reason: "class of the saving script's __main__"}
		default:
			rec.verdict = j.pol.Classify(g.Module, g.Name)
			rec.safety = rec.verdict.Safety
		}
		j.recs[key] = rec
		j.order = append(j.order, rec)
	}
	rec.count++
	j.byValue[g] = rec
}

func (j *judge) recOf(v *pickle.Value) *globalRec {
	if v == nil || v.Kind != pickle.KindGlobal {
		return nil
	}
	return j.byValue[v.Global]
}

// safetyOf judges a value used as a callable or class.
func (j *judge) safetyOf(v *pickle.Value) (finding.Safety, string) {
	switch v.Kind {
	case pickle.KindGlobal:
		if rec := j.recOf(v); rec != nil {
			return rec.effective(), rec.qual()
		}
		return finding.Dangerous, pickle.GlobalExpr(v.Global)
	case pickle.KindObject:
		if fn := partialFunc(v, j); fn != nil {
			return j.safetyOf(fn)
		}
		if j.dillType(v) {
			return finding.Innocuous, j.render.Repr(v)
		}
		return finding.Suspicious, "result of " + j.render.Repr(v)
	case pickle.KindPersistent:
		if cls := legacyModuleClass(v); cls != nil {
			return j.safetyOf(cls)
		}
		return finding.Suspicious, "persistent object"
	}
	// Literals are not callable: the load fails there.
	return finding.Innocuous, ""
}

func (r *globalRec) qual() string { return r.module + "." + r.name }

// dillType reports an object made by dill's _load_type for a plain data
// type, which is that type.
func (j *judge) dillType(v *pickle.Value) bool {
	if v.Call == nil {
		return false
	}
	rec := j.recOf(v.Call.Callee)
	if rec == nil || rec.qual() != "dill._dill._load_type" || v.Call.Args == nil || len(v.Call.Args.Items) != 1 {
		return false
	}
	a := v.Call.Args.Items[0]
	return a.IsString() && dillSafeTypes[a.Str]
}

// legacyModuleClass returns the class in a legacy PyTorch module persistent
// ID, ('module', cls, source_file, source): torch's persistent_load returns
// the class itself.
func legacyModuleClass(v *pickle.Value) *pickle.Value {
	if v.Kind != pickle.KindPersistent || len(v.Items) == 0 {
		return nil
	}
	pid := v.Items[0]
	if pid.Kind != pickle.KindTuple || len(pid.Items) < 2 {
		return nil
	}
	if tag := pid.Items[0]; !tag.IsString() || tag.Str != "module" || pid.Items[1].Kind != pickle.KindGlobal {
		return nil
	}
	return pid.Items[1]
}

func (r *globalRec) effective() finding.Safety {
	s := r.safety
	if r.main && r.mainCalled {
		s = finding.Suspicious
	}
	if r.wrapped > s {
		s = r.wrapped
	}
	return s
}

// partialFunc returns the callable a functools.partial object wraps: the
// last BUILD state's function (partial.__setstate__ replaces it) or the
// constructor's first argument.
func partialFunc(v *pickle.Value, j *judge) *pickle.Value {
	if v.Kind != pickle.KindObject || v.Call == nil {
		return nil
	}
	rec := j.recOf(v.Call.Callee)
	if rec == nil || rec.qual() != "functools.partial" {
		return nil
	}
	for i := len(v.Call.States) - 1; i >= 0; i-- {
		if st := v.Call.States[i]; st.Kind == pickle.KindTuple && len(st.Items) > 0 {
			return st.Items[0]
		}
	}
	if a := v.Call.Args; a != nil && len(a.Items) > 0 {
		return a.Items[0]
	}
	return nil
}

// partialCallExpr renders a call of a partial object as the call it makes:
// fn(partial args…, call args…, partial keywords…).
func (j *judge) partialCallExpr(p, fn *pickle.Value, c *pickle.Call) string {
	var args, kw *pickle.Value
	for i := len(p.Call.States) - 1; i >= 0; i-- {
		if st := p.Call.States[i]; st.Kind == pickle.KindTuple && len(st.Items) >= 3 {
			args, kw = st.Items[1], st.Items[2]
			break
		}
	}
	if args == nil && p.Call.Args != nil && len(p.Call.Args.Items) > 1 {
		args = &pickle.Value{Kind: pickle.KindTuple, Items: p.Call.Args.Items[1:]}
	}
	all := &pickle.Value{Kind: pickle.KindTuple}
	if args != nil {
		all.Items = append(all.Items, args.Items...)
	}
	if c.Args != nil {
		all.Items = append(all.Items, c.Args.Items...)
	}
	if kw != nil && kw.Kind != pickle.KindDict {
		kw = nil
	}
	return j.render.CallExpr(&pickle.Call{Callee: fn, Args: all, Kwargs: kw})
}

// Call implements pickle.Visitor.
func (j *judge) Call(c *pickle.Call) {
	if c.Method != "" {
		j.methodCall(c)
		return
	}
	switch c.Callee.Kind {
	case pickle.KindGlobal:
		rec := j.recOf(c.Callee)
		if rec == nil {
			return // computed or EXT: already reported
		}
		j.globalCall(rec, c)
	case pickle.KindObject:
		if fn := partialFunc(c.Callee, j); fn != nil {
			s, what := j.safetyOf(fn)
			if rec := j.recOf(c.Callee.Call.Callee); rec != nil && s > rec.wrapped {
				rec.wrapped = s
			}
			if target := j.recOf(fn); target != nil {
				if target.evidence == "" && target.effective() != finding.Innocuous {
					target.evidence = j.partialCallExpr(c.Callee, fn, c)
				}
				if target.verdict.Loader {
					j.scanLoaderArgs(c, target.qual())
				}
			} else if s != finding.Innocuous {
				j.finding(finding.RulePickleIndirectCall, "calls a functools.partial of "+what, j.render.CallExpr(c), c.Off)
			}
			return
		}
		if j.dillType(c.Callee) {
			return
		}
		j.finding(finding.RulePickleIndirectCall, fmt.Sprintf("%s calls the result of an earlier call", c.Op), j.render.CallExpr(c), c.Off)
	case pickle.KindPersistent:
		if cls := legacyModuleClass(c.Callee); cls != nil {
			if rec := j.recOf(cls); rec != nil {
				j.globalCall(rec, c)
			}
			return
		}
		j.finding(finding.RulePickleIndirectCall, fmt.Sprintf("%s calls a persistent object", c.Op), j.render.CallExpr(c), c.Off)
	}
}

func (j *judge) noteCall(rec *globalRec, c *pickle.Call) {
	if rec.evidence == "" {
		rec.evidence = j.render.CallExpr(c)
	}
}

func (j *judge) globalCall(rec *globalRec, c *pickle.Call) {
	if rec.main && !c.New && c.Args != nil && len(c.Args.Items) > 0 {
		rec.mainCalled = true
		rec.evidence = j.render.CallExpr(c)
	}
	if rec.effective() != finding.Innocuous {
		j.noteCall(rec, c)
	}
	v := rec.verdict
	args := c.Args
	if v.Wrapper >= 0 && args != nil && v.Wrapper < len(args.Items) {
		w := args.Items[v.Wrapper]
		s, _ := j.safetyOf(w)
		if rec.qual() == "copyreg._reconstructor" && len(args.Items) > 1 {
			if s2, _ := j.safetyOf(args.Items[1]); s2 > s {
				s = s2
			}
		}
		if w.Kind == pickle.KindObject && partialFunc(w, j) == nil {
			j.finding(finding.RulePickleIndirectCall, fmt.Sprintf("%s is given a callable computed at load time", rec.qual()), j.render.CallExpr(c), c.Off)
		}
		if s > rec.wrapped {
			rec.wrapped = s
			if s != finding.Innocuous {
				rec.evidence = j.render.CallExpr(c)
			}
		}
		if target := j.recOf(w); target != nil && s != finding.Innocuous {
			j.noteCall(target, c)
		}
	}
	if len(v.Resolver) > 0 {
		j.checkResolver(rec, c)
	}
	if rec.qual() == "dill._dill._load_type" {
		j.checkDillType(rec, c)
	}
	if v.Loader {
		j.scanLoaderArgs(c, rec.qual())
	}
}

// checkResolver allows a resolver only for modules on its list.
func (j *judge) checkResolver(rec *globalRec, c *pickle.Call) {
	var mod *pickle.Value
	if c.Args != nil && len(c.Args.Items) > 0 {
		mod = c.Args.Items[0]
	}
	if mod != nil && mod.IsString() {
		for _, p := range rec.verdict.Resolver {
			if mod.Str == p || strings.HasPrefix(mod.Str, p+".") {
				return
			}
		}
	}
	rec.wrapped = finding.Dangerous
	rec.evidence = j.render.CallExpr(c)
}

var dillSafeTypes = map[string]bool{
	"list": true, "dict": true, "tuple": true, "set": true, "frozenset": true, "str": true, "bytes": true,
	"bytearray": true, "int": true, "float": true, "complex": true, "bool": true, "NoneType": true,
	"slice": true, "range": true, "object": true, "EllipsisType": true, "NotImplementedType": true,
	"PartialType": false,
}

// checkDillType judges dill's type lookup by the type name it is given:
// data types are fine, CodeType, FunctionType and the like build code.
func (j *judge) checkDillType(rec *globalRec, c *pickle.Call) {
	if c.Args != nil && len(c.Args.Items) > 0 {
		if a := c.Args.Items[0]; a.IsString() && dillSafeTypes[a.Str] {
			return
		}
	}
	rec.wrapped = finding.Dangerous
	rec.evidence = j.render.CallExpr(c)
}

func (j *judge) methodCall(c *pickle.Call) {
	t := c.Callee
	switch t.Kind {
	case pickle.KindObject:
		if t.Call == nil {
			return
		}
		s, _ := j.safetyOf(t.Call.Callee)
		if t.Call.Callee.Kind == pickle.KindObject && partialFunc(t.Call.Callee, j) == nil {
			s = finding.Suspicious
		}
		if s == finding.Innocuous {
			return // an allowlisted class's own container methods
		}
		if t.Call.Callee.Kind == pickle.KindGlobal {
			return // the class is reported as suspicious or dangerous already
		}
		j.finding(finding.RulePickleTypeConfusion, fmt.Sprintf("%s calls %s on an object built at load time", c.Op, c.Method), j.render.Repr(t), c.Off)
	case pickle.KindGlobal:
		j.finding(finding.RulePickleTypeConfusion, fmt.Sprintf("%s calls %s on the imported %s", c.Op, c.Method, pickle.GlobalExpr(t.Global)), pickle.GlobalExpr(t.Global), c.Off)
	default:
		j.finding(finding.RulePickleTypeConfusion, fmt.Sprintf("%s calls %s on a persistent object", c.Op, c.Method), j.render.Repr(t), c.Off)
	}
}

// benignDunders may appear as keys of ordinary object state.
var benignDunders = map[string]bool{"__module__": true, "__qualname__": true, "__doc__": true, "__name__": true,
	"__annotations__": true, "__weakref__": true, "__slots__": true, "__version__": true}

// Build implements pickle.Visitor.
func (j *judge) Build(obj, state *pickle.Value, off int64) {
	if obj.Kind == pickle.KindGlobal {
		j.finding(finding.RulePickleAttrWrite, "BUILD sets attributes of the imported "+pickle.GlobalExpr(obj.Global), pickle.GlobalExpr(obj.Global)+".__dict__.update("+j.render.Repr(state)+")", off)
		return
	}
	dicts := []*pickle.Value{state}
	if state.Kind == pickle.KindTuple && len(state.Items) == 2 {
		dicts = state.Items
	}
	for _, d := range dicts {
		if d.Kind != pickle.KindDict {
			continue
		}
		for i := 0; i+1 < len(d.Items); i += 2 {
			k := d.Items[i]
			if k.Kind == pickle.KindStr && len(k.Str) > 4 && strings.HasPrefix(k.Str, "__") && strings.HasSuffix(k.Str, "__") && !benignDunders[k.Str] {
				j.finding(finding.RulePickleSetstate, fmt.Sprintf("BUILD sets %s on an object, so later operations call what the pickle chose", k.Str),
					fmt.Sprintf("%s.%s = %s", j.render.Repr(obj), k.Str, j.render.Repr(d.Items[i+1])), off)
			}
		}
	}
	if fn := partialFunc(obj, j); fn != nil {
		if rec := j.recOf(obj.Call.Callee); rec != nil {
			if s, _ := j.safetyOf(fn); s > rec.wrapped {
				rec.wrapped = s
				rec.evidence = "functools.partial(" + j.render.Repr(fn) + ", …)"
			}
		}
	}
}

// Persistent implements pickle.Visitor.
func (j *judge) Persistent(pid, _ *pickle.Value, off int64) {
	if j.opts.PersistentID != nil {
		j.opts.PersistentID(pid, off, j.out)
		return
	}
	if !j.pidSeen {
		j.pidSeen = true
		j.finding(finding.RulePicklePersistentID, "the pickle hands values to persistent_load; a plain pickle.load refuses them", j.render.Repr(pid), off)
	}
}

// Anomaly implements pickle.Visitor.
func (j *judge) Anomaly(off int64, op pickle.Op, msg string) {
	f := j.cat.New(finding.RulePickleMalformed, msg, "", off)
	f.Severity = finding.Low
	if strings.Contains(msg, "no longer retained") {
		f.Severity = finding.Info
	}
	j.emit(f)
}

// StreamStart implements pickle.Visitor.
func (j *judge) StreamStart(int64) {}

// StreamEnd implements pickle.Visitor.
func (j *judge) StreamEnd(*pickle.Stream) {}

// scanLoaderArgs hands bytes passed to a loader back to the scan as a
// nested file.
func (j *judge) scanLoaderArgs(c *pickle.Call, loader string) {
	if c.Args == nil {
		return
	}
	found := false
	for i, a := range c.Args.Items {
		data := bytesArg(a)
		if data == nil {
			continue
		}
		found = true
		j.nested++
		name := fmt.Sprintf("%s(arg%d)@%d", loader, i, c.Off)
		var r io.ReaderAt
		var size int64
		switch {
		case data.Truncated && !data.ByRef:
			j.finding(finding.RulePickleIndirectCall, loader+" is given a long text-encoded argument that can't be read back from the stream", j.render.CallExpr(c), c.Off)
			continue
		case data.Truncated:
			r, size = io.NewSectionReader(j.r, data.Off, data.Len()), data.Len()
		default:
			r, size = bytes.NewReader([]byte(data.Str)), int64(len(data.Str))
		}
		j.finding(finding.RulePickleNested, fmt.Sprintf("%s is given %d bytes; they were scanned as %s", loader, size, name), j.render.CallExpr(c), c.Off)
		if err := j.out.Child(j.ctx, name, r, size); err != nil && j.ctx.Err() == nil {
			j.finding(finding.RuleParseError, "nested payload: "+err.Error(), "", c.Off)
		}
	}
	if !found && j.pol.Classify(splitQual(loader)).Safety == finding.Innocuous {
		j.finding(finding.RulePickleIndirectCall, loader+" is given data that cannot be read without running the load", j.render.CallExpr(c), c.Off)
	}
}

func splitQual(q string) (string, string) {
	i := strings.LastIndexByte(q, '.')
	if i < 0 {
		return q, ""
	}
	return q[:i], q[i+1:]
}

// bytesArg returns the bytes or str value a loader would read: a literal,
// or the argument of an io.BytesIO built in the stream.
func bytesArg(v *pickle.Value) *pickle.Value {
	switch v.Kind {
	case pickle.KindBytes, pickle.KindByteArray, pickle.KindStr:
		if v.Len() >= 2 {
			return v
		}
	case pickle.KindObject:
		if v.Call != nil && v.Call.Callee.Kind == pickle.KindGlobal && v.Call.Args != nil && len(v.Call.Args.Items) > 0 {
			a := v.Call.Args.Items[0]
			switch v.Call.Callee.Global.QualName() {
			case "_io.BytesIO", "io.BytesIO":
				return bytesArg(a)
			case "_codecs.encode", "codecs.encode":
				// Protocol 2 writes bytes as _codecs.encode(text, 'latin1').
				if a.Kind == pickle.KindStr && !a.Truncated {
					b := make([]byte, 0, len(a.Str))
					for _, r := range a.Str {
						b = append(b, byte(r))
					}
					return &pickle.Value{Kind: pickle.KindBytes, Str: string(b), Off: a.Off}
				}
				return a
			}
		}
	}
	return nil
}

// annotate labels imports in explain listings with their safety.
func (j *judge) annotate(g *pickle.Global) string {
	rec := j.byValue[g]
	if rec == nil {
		return ""
	}
	switch rec.safety {
	case finding.Dangerous:
		return "DANGEROUS: " + rec.verdict.Reason
	case finding.Suspicious:
		return "suspicious: " + rec.verdict.Reason
	}
	return ""
}

func (j *judge) finish(res *pickle.Result) {
	if res != nil {
		for _, st := range res.Streams {
			if st.Err != nil {
				ev := st.Err.Op.String()
				if !st.Err.Op.Valid() {
					ev = fmt.Sprintf("opcode 0x%02x", byte(st.Err.Op))
				}
				f := j.cat.New(finding.RulePickleMalformed, fmt.Sprintf("the stream breaks (%s); a load runs everything before this point", st.Err.Msg), ev, st.Err.Off)
				j.emit(f)
			}
		}
		want := j.opts.Streams
		if want == 0 {
			want = 1
		}
		if n := len(res.Streams); n > want {
			j.finding(finding.RulePickleMultiple, fmt.Sprintf("%d pickle streams where %d is expected; all were scanned", n, want), "", res.Streams[want].Start)
		}
		for _, r := range res.Junk {
			j.finding(finding.RulePickleTrailing, fmt.Sprintf("%d bytes at offset %d are not a pickle", r.End-r.Start, r.Start), "", r.Start)
		}
		if u := res.Unsearched; u != nil {
			j.finding(finding.RuleLimit, fmt.Sprintf("%d trailing bytes beyond the search limit were not checked for further pickles", u.End-u.Start), "", u.Start)
		}
	}
	sort.SliceStable(j.order, func(a, b int) bool { return j.order[a].off < j.order[b].off })
	for _, rec := range j.order {
		if rec.torchScript {
			continue
		}
		s := rec.effective()
		j.out.Import(finding.Import{Module: rec.module, Name: rec.name, Safety: s, Offset: rec.off, Count: rec.count})
		ev := rec.evidence
		if ev == "" {
			ev = rec.qual()
		}
		switch {
		case rec.safety == finding.Dangerous:
			j.finding(finding.RulePickleDangerous, fmt.Sprintf("imports %s: %s", rec.qual(), rec.verdict.Reason), ev, rec.off)
		case rec.wrapped == finding.Dangerous:
			j.finding(finding.RulePickleDangerous, fmt.Sprintf("%s is used to reach a dangerous callable", rec.qual()), ev, rec.off)
		case s == finding.Suspicious && rec.safety != finding.Innocuous:
			j.finding(finding.RulePickleSuspicious, fmt.Sprintf("imports %s: %s", rec.qual(), rec.verdict.Reason), ev, rec.off)
		case s == finding.Suspicious && rec.main:
			j.finding(finding.RulePickleSuspicious, fmt.Sprintf("calls %s with arguments", rec.qual()), ev, rec.off)
		}
	}
}
