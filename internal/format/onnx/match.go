package onnx

import "google.golang.org/protobuf/encoding/protowire"

// ModelProto fields and their wire types, as onnx.proto defines them.
// Unknown fields numbered 15 and up are accepted (later IR versions add
// fields there); unknown fields below that are not.
var modelFields = map[protowire.Number]protowire.Type{
	1:  protowire.VarintType, // ir_version
	2:  protowire.BytesType,  // producer_name
	3:  protowire.BytesType,  // producer_version
	4:  protowire.BytesType,  // domain
	5:  protowire.VarintType, // model_version
	6:  protowire.BytesType,  // doc_string
	7:  protowire.BytesType,  // graph
	8:  protowire.BytesType,  // opset_import
	14: protowire.BytesType,  // metadata_props
	20: protowire.BytesType,  // training_info
	25: protowire.BytesType,  // functions
	26: protowire.BytesType,  // configuration (IR v10)
}

// graphFields are GraphProto's fields (all length-delimited).
var graphFields = map[protowire.Number]bool{1: true, 2: true, 5: true, 10: true, 11: true, 12: true, 13: true, 14: true, 15: true, 16: true}

// looksLikeModel parses the start of the content as a ModelProto: every
// field in head must be a ModelProto field of the right wire type, lengths
// must fit the content, and it must have a graph, opset imports or
// functions, plus an IR version in range or a graph whose first field is a
// GraphProto field. Protobuf has no magic number, so this structure is the
// signature; random bytes and pickles fail it within a few bytes.
func looksLikeModel(head []byte, size int64) bool {
	pos := 0
	var irOK, body, graphOK bool
	for pos < len(head) {
		num, typ, n := protowire.ConsumeTag(head[pos:])
		if n < 0 {
			return false
		}
		want, known := modelFields[num]
		switch {
		case known && want != typ:
			return false
		case !known && num < 15:
			return false
		case !known && typ != protowire.VarintType && typ != protowire.BytesType:
			return false // fields added by later IR versions are messages or scalars
		}
		pos += n
		switch typ {
		case protowire.VarintType:
			v, k := protowire.ConsumeVarint(head[pos:])
			if k < 0 {
				return false
			}
			if num == 1 {
				irOK = v >= 1 && v <= 64
				if !irOK {
					return false
				}
			}
			pos += k
		case protowire.BytesType:
			v, k := protowire.ConsumeVarint(head[pos:])
			if k < 0 || v > uint64(size-int64(pos+k)) {
				return false
			}
			pos += k
			if num == 7 || num == 8 || num == 25 {
				body = true
			}
			if num == 7 {
				graphOK = looksLikeGraphStart(head[pos:min(len(head), pos+int(min(v, 1<<20)))])
			}
			if int64(pos)+int64(v) > int64(len(head)) {
				return body && (irOK || graphOK)
			}
			pos += int(v)
		}
	}
	return body && (irOK || graphOK) && int64(pos) == size
}

// looksLikeGraphStart checks that b begins with a GraphProto field.
func looksLikeGraphStart(b []byte) bool {
	if len(b) == 0 {
		return true // an empty graph
	}
	num, typ, n := protowire.ConsumeTag(b)
	return n > 0 && typ == protowire.BytesType && graphFields[num]
}
