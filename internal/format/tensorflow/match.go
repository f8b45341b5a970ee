package tensorflow

import "google.golang.org/protobuf/encoding/protowire"

// Protobuf has no magic number: these matchers parse the start of the
// content as the message and accept only the exact field layout (field
// numbers and wire types) of a SavedModel or GraphDef, which random bytes,
// pickles and other protobufs (ONNX) fail within a few fields.

type fieldFn func(num protowire.Number, typ protowire.Type, val uint64, body []byte, whole bool) bool

// walkHead decodes the top-level fields visible in head, calling fn for
// each (body is the visible part of a length-delimited payload; whole
// reports that all of it is visible). It returns false if fn does, or if
// the encoding is invalid or a length exceeds the content.
func walkHead(head []byte, size int64, fn fieldFn) (ok, complete bool) {
	pos := 0
	for pos < len(head) {
		num, typ, n := protowire.ConsumeTag(head[pos:])
		if n < 0 {
			return false, false
		}
		pos += n
		switch typ {
		case protowire.VarintType:
			v, k := protowire.ConsumeVarint(head[pos:])
			if k < 0 || !fn(num, typ, v, nil, true) {
				return false, false
			}
			pos += k
		case protowire.BytesType:
			v, k := protowire.ConsumeVarint(head[pos:])
			if k < 0 || v > uint64(size-int64(pos+k)) {
				return false, false
			}
			pos += k
			end := pos + int(min(v, uint64(len(head)-pos)))
			whole := uint64(end-pos) == v
			if !fn(num, typ, 0, head[pos:end], whole) {
				return false, false
			}
			if !whole {
				return true, false
			}
			pos = end
		default:
			return false, false
		}
	}
	return true, int64(pos) == size
}

// looksLikeSavedModel: saved_model_schema_version (1, varint, small) and
// meta_graphs (2), each starting like a MetaGraphDef.
func looksLikeSavedModel(head []byte, size int64) bool {
	metaGraphs := 0
	ok, complete := walkHead(head, size, func(num protowire.Number, typ protowire.Type, v uint64, body []byte, _ bool) bool {
		switch {
		case num == 1 && typ == protowire.VarintType:
			return v <= 16
		case num == 2 && typ == protowire.BytesType:
			metaGraphs++
			return looksLikeMetaGraph(body)
		}
		return false
	})
	return ok && metaGraphs > 0 && (complete || len(head) < int(size))
}

// looksLikeMetaGraph: MetaGraphDef fields 1–9 are all messages; its
// meta_info_def (1) holds strings and messages in fields 1–8.
func looksLikeMetaGraph(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	ok, _ := walkHead(b, int64(len(b))+1<<40, func(num protowire.Number, typ protowire.Type, _ uint64, body []byte, whole bool) bool {
		if typ != protowire.BytesType || num < 1 || num > 9 {
			return false
		}
		if num == 1 {
			inner, _ := walkHead(body, int64(len(body))+1<<40, func(n protowire.Number, t protowire.Type, _ uint64, _ []byte, _ bool) bool {
				return n >= 1 && n <= 8 && (t == protowire.BytesType || (n == 7 && t == protowire.VarintType))
			})
			return inner
		}
		return true
	})
	return ok
}

// looksLikeGraphDef: node (1) messages whose NodeDef starts with a name
// and an op name, then library (2), version (3), versions (4).
func looksLikeGraphDef(head []byte, size int64) bool {
	nodes := 0
	ok, complete := walkHead(head, size, func(num protowire.Number, typ protowire.Type, _ uint64, body []byte, whole bool) bool {
		switch {
		case num == 1 && typ == protowire.BytesType:
			if !looksLikeNodeDef(body, whole) {
				return false
			}
			nodes++
			return true
		case (num == 2 || num == 4) && typ == protowire.BytesType, num == 3 && typ == protowire.VarintType:
			return nodes > 0
		}
		return false
	})
	return ok && nodes > 0 && (complete || len(head) < int(size))
}

// looksLikeNodeDef checks name (1) then op (2), an identifier.
func looksLikeNodeDef(b []byte, whole bool) bool {
	var name, op bool
	fields := 0
	ok, _ := walkHead(b, int64(len(b))+1<<40, func(num protowire.Number, typ protowire.Type, _ uint64, body []byte, full bool) bool {
		fields++
		if typ != protowire.BytesType || num < 1 || num > 7 {
			return false
		}
		switch num {
		case 1:
			name = fields == 1 && full && len(body) > 0
			return name
		case 2:
			op = name && full && isOpName(body)
			return op
		}
		return op
	})
	return ok && name && op
}

func isOpName(b []byte) bool {
	if len(b) == 0 || len(b) > 256 {
		return false
	}
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		case (c >= '0' && c <= '9') || c == '>' || c == '.':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
