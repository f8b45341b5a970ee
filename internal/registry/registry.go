// Package registry lists every analyzer, in match order. It is a plain
// list, built on request: no init() side effects, no global state.
package registry

import (
	"modelgate/internal/archive"
	"modelgate/internal/format"
	"modelgate/internal/format/chatjson"
	"modelgate/internal/format/compressed"
	"modelgate/internal/format/ggufscan"
	"modelgate/internal/format/h2o"
	"modelgate/internal/format/joblib"
	"modelgate/internal/format/kerash5"
	"modelgate/internal/format/kerasv3"
	"modelgate/internal/format/numpy"
	"modelgate/internal/format/onnx"
	"modelgate/internal/format/rawpickle"
	"modelgate/internal/format/safetensorsscan"
	"modelgate/internal/format/sevenzip"
	"modelgate/internal/format/tararchive"
	"modelgate/internal/format/tensorflow"
	"modelgate/internal/format/torchlegacy"
	"modelgate/internal/format/torchscript"
	"modelgate/internal/format/torchzip"
	"modelgate/internal/format/ziparchive"
)

// Analyzers returns the analyzers in the order their Match is tried:
// formats with unambiguous magic bytes first, containers next, pickles
// after them (a protocol 0 pickle has no magic), text formats last.
func Analyzers() []format.Analyzer {
	return []format.Analyzer{
		// Unambiguous magic bytes first.
		safetensorsscan.New(),
		ggufscan.New(),
		kerash5.New(),
		numpy.NewNPY(),
		sevenzip.New(),
		compressed.New(archive.Gzip),
		compressed.New(archive.Bzip2),
		compressed.New(archive.XZ),
		compressed.New(archive.Zstd),
		compressed.New(archive.LZ4),
		torchlegacy.NewTar(), // PyTorch 0.1.x tar, before the generic tar
		tararchive.New(),     // before zip: a zip inside a tar puts a zip end record near the end
		// Zip-based formats, the generic zip last.
		h2o.NewMOJO(),
		kerasv3.New(),
		torchscript.New(), // before torchzip: a TorchScript archive is also a torch zip
		torchzip.New(),
		numpy.NewNPZ(),
		ziparchive.New(),             // after every zip-based format
		compressed.New(archive.Zlib), // two-byte magic, checked by decoding
		compressed.New(archive.LZMA), // likewise
		compressed.New(archive.ZFile),
		// Protobufs without magic, matched by structure.
		onnx.New(),
		tensorflow.NewSavedModel(),
		tensorflow.NewKerasMetadata(),
		tensorflow.NewGraphDef(),
		// Pickle-based formats before the raw pickle; text formats that can
		// look like a protocol 0 pickle before it too.
		torchlegacy.New(),
		joblib.New(),
		chatjson.New(),
		h2o.NewPOJO(),
		rawpickle.New(),
	}
}

// Detect returns the first analyzer that matches the probe, or nil.
func Detect(analyzers []format.Analyzer, p *format.Probe) format.Analyzer {
	for _, a := range analyzers {
		if a.Match(p) {
			return a
		}
	}
	return nil
}
