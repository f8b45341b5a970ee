package safetensors

// DType is a tensor element type as safetensors names it ("F32", "BF16").
type DType string

// The dtypes of the safetensors format, including the sub-byte and 8-bit
// float types added for quantized models.
const (
	BOOL       DType = "BOOL"
	F4         DType = "F4" // float4 e2m1, two per byte
	F6E2M3     DType = "F6_E2M3"
	F6E3M2     DType = "F6_E3M2"
	U8         DType = "U8"
	I8         DType = "I8"
	F8E5M2     DType = "F8_E5M2"
	F8E4M3     DType = "F8_E4M3"
	F8E8M0     DType = "F8_E8M0"
	F8E4M3FNUZ DType = "F8_E4M3FNUZ"
	F8E5M2FNUZ DType = "F8_E5M2FNUZ"
	I16        DType = "I16"
	U16        DType = "U16"
	F16        DType = "F16"
	BF16       DType = "BF16"
	I32        DType = "I32"
	U32        DType = "U32"
	F32        DType = "F32"
	F64        DType = "F64"
	I64        DType = "I64"
	U64        DType = "U64"
	C64        DType = "C64" // complex64
)

// dtypeBits gives each dtype's size in bits and its rank in the reference
// writer's order (larger alignment first, then by name).
var dtypeBits = map[DType]int{
	BOOL: 8, F4: 4, F6E2M3: 6, F6E3M2: 6, U8: 8, I8: 8, F8E5M2: 8, F8E4M3: 8, F8E8M0: 8,
	F8E4M3FNUZ: 8, F8E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, F64: 64, I64: 64, U64: 64, C64: 64,
}

// dtypeRank is the position of each dtype in the reference
// implementation's Dtype enum, which orders them by alignment; its
// writer lays tensors out by descending rank, then by name.
var dtypeRank = map[DType]int{
	BOOL: 0, F4: 1, F6E2M3: 2, F6E3M2: 3, U8: 4, I8: 5, F8E5M2: 6, F8E4M3: 7, F8E8M0: 8,
	F8E4M3FNUZ: 9, F8E5M2FNUZ: 10, I16: 11, U16: 12, F16: 13, BF16: 14, I32: 15, U32: 16,
	F32: 17, C64: 18, F64: 19, I64: 20, U64: 21,
}

// Known reports whether d is a safetensors dtype.
func (d DType) Known() bool { _, ok := dtypeBits[d]; return ok }

// Bits returns the size of one element in bits, or 0 if unknown.
func (d DType) Bits() int { return dtypeBits[d] }
