package onnx

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"modelgate/internal/limits"
	"modelgate/internal/protoscan"
)

// Visitor receives what the walk finds. Offsets are byte offsets in the
// model file.
type Visitor struct {
	// External is called for each external_data location of a tensor.
	External func(tensor, location string, off int64)
	// Domain is called for each operator set or node domain.
	Domain func(domain string, off int64)
	// Function is called for each model-local function.
	Function func(domain, name string, off int64)
	// Node is called for each node with its string attributes.
	Node func(opType, domain string, attrs map[string]string, off int64)
}

// Options bound the walk.
type Options struct {
	MaxDepth int   // graphs nested in If/Loop/Scan attributes and functions
	MaxNodes int64 // nodes, tensors and attributes in total
}

// DefaultOptions suit the largest real models.
func DefaultOptions() Options { return Options{MaxDepth: 64, MaxNodes: 50_000_000} }

// ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto and
// friends: field numbers from onnx.proto (python3-onnx 1.12, IR v8; later
// fields are skipped as unknown).
const (
	modelGraph        = 7
	modelOpsetImport  = 8
	modelTrainingInfo = 20
	modelFunctions    = 25

	trainingInit      = 1
	trainingAlgorithm = 2

	opsetDomain = 1

	graphNode               = 1
	graphInitializer        = 5
	graphSparseInitializer  = 15
	sparseValues            = 1
	sparseIndices           = 2
	nodeOpType              = 4
	nodeDomain              = 7
	nodeAttribute           = 5
	attrName                = 1
	attrS                   = 4
	attrT                   = 5
	attrG                   = 6
	attrTensors             = 10
	attrGraphs              = 11
	attrSparseTensor        = 22
	attrSparseTensors       = 23
	tensorName              = 8
	tensorExternalData      = 13
	entryKey                = 1
	entryValue              = 2
	functionName            = 1
	functionNode            = 7
	functionOpsetImport     = 9
	functionDomain          = 10
	functionAttributeProtos = 11
)

type walker struct {
	ctx   context.Context
	s     *protoscan.Source
	v     *Visitor
	opt   Options
	nodes int64
}

// Walk walks a ModelProto.
func Walk(ctx context.Context, s *protoscan.Source, opt Options, v *Visitor) error {
	w := &walker{ctx: ctx, s: s, v: v, opt: opt}
	m := s.Root()
	for {
		f, ok, err := m.Next()
		if err != nil || !ok {
			return err
		}
		if f.Type != protowire.BytesType {
			continue
		}
		switch f.Num {
		case modelGraph:
			err = w.graph(s.Sub(f), 0)
		case modelOpsetImport:
			err = w.opset(s.Sub(f))
		case modelTrainingInfo:
			err = w.fields(s.Sub(f), func(g protoscan.Field) error {
				if g.Num == trainingInit || g.Num == trainingAlgorithm {
					return w.graph(s.Sub(g), 1)
				}
				return nil
			})
		case modelFunctions:
			err = w.function(s.Sub(f))
		}
		if err != nil {
			return err
		}
	}
}

// fields calls fn for each length-delimited field of a message.
func (w *walker) fields(m protoscan.Message, fn func(protoscan.Field) error) error {
	for {
		f, ok, err := m.Next()
		if err != nil || !ok {
			return err
		}
		if f.Type != protowire.BytesType {
			continue
		}
		if err := fn(f); err != nil {
			return err
		}
	}
}

func (w *walker) count(off int64) error {
	if w.nodes++; w.nodes > w.opt.MaxNodes {
		return limits.Exceeded("ONNXMaxNodes", w.nodes, w.opt.MaxNodes, off)
	}
	if w.nodes%4096 == 0 {
		return w.ctx.Err()
	}
	return nil
}

func (w *walker) opset(m protoscan.Message) error {
	start := m.Pos()
	return w.fields(m, func(f protoscan.Field) error {
		if f.Num == opsetDomain {
			d, err := w.s.String(f, 1024)
			if err != nil {
				return err
			}
			w.v.Domain(d, start)
		}
		return nil
	})
}

func (w *walker) graph(m protoscan.Message, depth int) error {
	if depth > w.opt.MaxDepth {
		return limits.Exceeded("ONNXMaxDepth", int64(depth), int64(w.opt.MaxDepth), m.Pos())
	}
	return w.fields(m, func(f protoscan.Field) error {
		switch f.Num {
		case graphNode:
			return w.node(w.s.Sub(f), depth)
		case graphInitializer:
			return w.tensor(w.s.Sub(f))
		case graphSparseInitializer:
			return w.sparse(w.s.Sub(f))
		}
		return nil
	})
}

func (w *walker) sparse(m protoscan.Message) error {
	return w.fields(m, func(f protoscan.Field) error {
		if f.Num == sparseValues || f.Num == sparseIndices {
			return w.tensor(w.s.Sub(f))
		}
		return nil
	})
}

func (w *walker) node(m protoscan.Message, depth int) error {
	start := m.Pos()
	if err := w.count(start); err != nil {
		return err
	}
	var opType, domain string
	attrs := map[string]string{}
	err := w.fields(m, func(f protoscan.Field) error {
		var err error
		switch f.Num {
		case nodeOpType:
			opType, err = w.s.String(f, 1024)
		case nodeDomain:
			domain, err = w.s.String(f, 1024)
		case nodeAttribute:
			err = w.attribute(w.s.Sub(f), depth, attrs)
		}
		return err
	})
	if err != nil {
		return err
	}
	w.v.Domain(domain, start)
	w.v.Node(opType, domain, attrs, start)
	return nil
}

func (w *walker) attribute(m protoscan.Message, depth int, attrs map[string]string) error {
	if err := w.count(m.Pos()); err != nil {
		return err
	}
	var name, s string
	err := w.fields(m, func(f protoscan.Field) error {
		var err error
		switch f.Num {
		case attrName:
			name, err = w.s.String(f, 256)
		case attrS:
			s, err = w.s.String(f, 512)
		case attrT, attrTensors:
			err = w.tensor(w.s.Sub(f))
		case attrSparseTensor, attrSparseTensors:
			err = w.sparse(w.s.Sub(f))
		case attrG, attrGraphs:
			err = w.graph(w.s.Sub(f), depth+1)
		}
		return err
	})
	if err == nil && name != "" && len(attrs) < 64 {
		attrs[name] = s
	}
	return err
}

func (w *walker) tensor(m protoscan.Message) error {
	start := m.Pos()
	if err := w.count(start); err != nil {
		return err
	}
	var name string
	var locations []string
	err := w.fields(m, func(f protoscan.Field) error {
		switch f.Num {
		case tensorName:
			var err error
			name, err = w.s.String(f, 1024)
			return err
		case tensorExternalData:
			key, value, err := w.entry(w.s.Sub(f))
			if err != nil {
				return err
			}
			if key == "location" {
				locations = append(locations, value)
			}
		}
		return nil
	})
	for _, loc := range locations {
		w.v.External(name, loc, start)
	}
	return err
}

// entry reads a StringStringEntryProto.
func (w *walker) entry(m protoscan.Message) (key, value string, err error) {
	err = w.fields(m, func(f protoscan.Field) error {
		var err error
		switch f.Num {
		case entryKey:
			key, err = w.s.String(f, 256)
		case entryValue:
			value, err = w.s.String(f, 4096)
		}
		return err
	})
	return key, value, err
}

func (w *walker) function(m protoscan.Message) error {
	start := m.Pos()
	var name, domain string
	err := w.fields(m, func(f protoscan.Field) error {
		var err error
		switch f.Num {
		case functionName:
			name, err = w.s.String(f, 1024)
		case functionDomain:
			domain, err = w.s.String(f, 1024)
		case functionNode:
			err = w.node(w.s.Sub(f), 1)
		case functionOpsetImport:
			err = w.opset(w.s.Sub(f))
		case functionAttributeProtos:
			err = w.attribute(w.s.Sub(f), 1, map[string]string{})
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("function %s: %w", name, err)
	}
	w.v.Function(domain, name, start)
	return nil
}
