package tensorflow

import (
	"context"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"modelgate/internal/limits"
	"modelgate/internal/protoscan"
)

// Field numbers from TensorFlow's saved_model.proto, meta_graph.proto,
// graph.proto, node_def.proto, function.proto, attr_value.proto and
// tensor.proto.
const (
	savedModelMetaGraphs = 2

	metaGraphGraphDef  = 2
	metaGraphAssetFile = 6
	assetFileFilename  = 2

	graphNode    = 1
	graphLibrary = 2

	libraryFunction = 1

	functionSignature = 1
	functionNodeDef   = 3
	opDefName         = 1

	nodeName  = 1
	nodeOp    = 2
	nodeInput = 3
	nodeAttr  = 5

	entryKey   = 1
	entryValue = 2

	attrList   = 1
	attrS      = 2
	attrTensor = 8
	listS      = 2

	tensorDtype     = 1
	tensorStringVal = 8
	dtString        = 7
)

// OpUse is one use of an op the visitor asked about.
type OpUse struct {
	Op, Node string
	// Scope is "graph" or "function NAME".
	Scope string
	// Consts are the string constants the op's inputs are wired to
	// directly (paths, patterns), in input order.
	Consts []string
	// Attrs are the node's string attributes (and string lists, joined).
	Attrs map[string]string
	Off   int64
}

// Visitor receives what the walk finds.
type Visitor struct {
	// Interesting selects the ops to report; others are only counted.
	Interesting func(op string) bool
	Op          func(OpUse)
	Asset       func(filename string, off int64)
}

// Options bound the walk.
type Options struct {
	MaxNodes  int64 // nodes in total
	MaxConsts int   // string constants remembered per graph or function
}

// DefaultOptions suit the largest real graphs.
func DefaultOptions() Options { return Options{MaxNodes: 50_000_000, MaxConsts: 200_000} }

type walker struct {
	ctx   context.Context
	s     *protoscan.Source
	v     *Visitor
	opt   Options
	nodes int64
}

// WalkSavedModel walks a SavedModel: every meta graph's graph and
// function library, and its asset file names.
func WalkSavedModel(ctx context.Context, s *protoscan.Source, opt Options, v *Visitor) error {
	w := &walker{ctx: ctx, s: s, v: v, opt: opt}
	return w.each(s.Root(), func(f protoscan.Field) error {
		if f.Num != savedModelMetaGraphs {
			return nil
		}
		return w.each(s.Sub(f), func(g protoscan.Field) error {
			switch g.Num {
			case metaGraphGraphDef:
				return w.graphDef(s.Sub(g))
			case metaGraphAssetFile:
				return w.each(s.Sub(g), func(h protoscan.Field) error {
					if h.Num == assetFileFilename {
						name, err := s.String(h, 4096)
						if err != nil {
							return err
						}
						v.Asset(name, h.Start)
					}
					return nil
				})
			}
			return nil
		})
	})
}

// WalkGraphDef walks a GraphDef (a frozen graph .pb).
func WalkGraphDef(ctx context.Context, s *protoscan.Source, opt Options, v *Visitor) error {
	w := &walker{ctx: ctx, s: s, v: v, opt: opt}
	return w.graphDef(s.Root())
}

// each calls fn for every length-delimited field of a message.
func (w *walker) each(m protoscan.Message, fn func(protoscan.Field) error) error {
	for {
		f, ok, err := m.Next()
		if err != nil || !ok {
			return err
		}
		if f.Type == protowire.BytesType {
			if err := fn(f); err != nil {
				return err
			}
		}
	}
}

// scope collects one graph's or function's ops and string constants, and
// resolves the constants each op is wired to when the scope ends.
type scope struct {
	name   string
	consts map[string]string
	uses   []pending
}

type pending struct {
	use    OpUse
	inputs []string
}

func (w *walker) graphDef(m protoscan.Message) error {
	sc := &scope{name: "graph", consts: map[string]string{}}
	err := w.each(m, func(f protoscan.Field) error {
		switch f.Num {
		case graphNode:
			return w.node(w.s.Sub(f), sc)
		case graphLibrary:
			return w.each(w.s.Sub(f), func(g protoscan.Field) error {
				if g.Num == libraryFunction {
					return w.function(w.s.Sub(g))
				}
				return nil
			})
		}
		return nil
	})
	w.finish(sc)
	return err
}

func (w *walker) function(m protoscan.Message) error {
	sc := &scope{name: "function", consts: map[string]string{}}
	err := w.each(m, func(f protoscan.Field) error {
		switch f.Num {
		case functionSignature:
			return w.each(w.s.Sub(f), func(g protoscan.Field) error {
				if g.Num == opDefName {
					name, err := w.s.String(g, 1024)
					sc.name = "function " + name
					return err
				}
				return nil
			})
		case functionNodeDef:
			return w.node(w.s.Sub(f), sc)
		}
		return nil
	})
	w.finish(sc)
	return err
}

func (w *walker) finish(sc *scope) {
	for _, p := range sc.uses {
		p.use.Scope = sc.name
		for _, in := range p.inputs {
			if v, ok := sc.consts[in]; ok {
				p.use.Consts = append(p.use.Consts, v)
			}
		}
		w.v.Op(p.use)
	}
}

func (w *walker) node(m protoscan.Message, sc *scope) error {
	start := m.Pos()
	if w.nodes++; w.nodes > w.opt.MaxNodes {
		return limits.Exceeded("TFMaxNodes", w.nodes, w.opt.MaxNodes, start)
	}
	if w.nodes%4096 == 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
	var name, op string
	var inputs []string
	var attrs map[string]string
	var constVal *string
	err := w.each(m, func(f protoscan.Field) error {
		var err error
		switch f.Num {
		case nodeName:
			name, err = w.s.String(f, 4096)
		case nodeOp:
			op, err = w.s.String(f, 1024)
		case nodeInput:
			if len(inputs) < 16 {
				var in string
				in, err = w.s.String(f, 4096)
				if !strings.HasPrefix(in, "^") { // control inputs carry no data
					if i := strings.IndexByte(in, ':'); i >= 0 {
						in = in[:i]
					}
					inputs = append(inputs, in)
				}
			}
		case nodeAttr:
			var key, s string
			var isConst bool
			key, s, isConst, err = w.attr(w.s.Sub(f))
			if err == nil && s != "" {
				if attrs == nil {
					attrs = map[string]string{}
				}
				if len(attrs) < 32 {
					attrs[key] = s
				}
				if isConst && key == "value" {
					constVal = &s
				}
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if op == "Const" && constVal != nil && len(sc.consts) < w.opt.MaxConsts {
		sc.consts[name] = *constVal
	}
	if w.v.Interesting(op) {
		sc.uses = append(sc.uses, pending{OpUse{Op: op, Node: name, Attrs: attrs, Off: start}, inputs})
	}
	return nil
}

// attr reads a NodeDef attr map entry: its key and string value (a
// string, a list of strings joined, or a string tensor's first element,
// with isTensor set).
func (w *walker) attr(m protoscan.Message) (key, val string, isTensor bool, err error) {
	err = w.each(m, func(f protoscan.Field) error {
		var err error
		switch f.Num {
		case entryKey:
			key, err = w.s.String(f, 256)
		case entryValue:
			return w.each(w.s.Sub(f), func(g protoscan.Field) error {
				var err error
				switch g.Num {
				case attrS:
					val, err = w.s.String(g, 4096)
				case attrList:
					var parts []string
					err = w.each(w.s.Sub(g), func(h protoscan.Field) error {
						if h.Num == listS && len(parts) < 16 {
							p, err := w.s.String(h, 1024)
							parts = append(parts, p)
							return err
						}
						return nil
					})
					val = strings.Join(parts, ", ")
				case attrTensor:
					val, isTensor, err = w.stringTensor(w.s.Sub(g))
				}
				return err
			})
		}
		return err
	})
	return key, val, isTensor, err
}

// stringTensor returns the first string of a DT_STRING TensorProto.
func (w *walker) stringTensor(m protoscan.Message) (string, bool, error) {
	var dtype uint64
	var first *string
	for {
		f, ok, err := m.Next()
		if err != nil {
			return "", false, err
		}
		if !ok {
			break
		}
		switch {
		case f.Num == tensorDtype && f.Type == protowire.VarintType:
			dtype = f.Val
		case f.Num == tensorStringVal && f.Type == protowire.BytesType && first == nil:
			s, err := w.s.String(f, 4096)
			if err != nil {
				return "", false, err
			}
			first = &s
		}
	}
	if dtype != dtString || first == nil {
		return "", false, nil
	}
	return *first, true, nil
}
