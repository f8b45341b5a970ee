// Package registry lists every analyzer, in match order. It is a plain
// list, built on request: no init() side effects, no global state.
package registry

import (
	"modelgate/internal/format"
	"modelgate/internal/format/chatjson"
	"modelgate/internal/format/ggufscan"
	"modelgate/internal/format/h2o"
	"modelgate/internal/format/kerash5"
	"modelgate/internal/format/kerasv3"
	"modelgate/internal/format/onnx"
	"modelgate/internal/format/rawpickle"
	"modelgate/internal/format/safetensorsscan"
	"modelgate/internal/format/tensorflow"
)

// Analyzers returns the analyzers in the order their Match is tried:
// formats with unambiguous magic bytes first, containers next, pickles
// after them (a protocol 0 pickle has no magic), text formats last.
func Analyzers() []format.Analyzer {
	return []format.Analyzer{
		safetensorsscan.New(),
		ggufscan.New(),
		kerash5.New(),
		h2o.NewMOJO(), // a zip: before any generic zip analyzer
		kerasv3.New(), // a zip: before any generic zip analyzer
		onnx.New(),    // protobufs without magic: matched by structure
		tensorflow.NewSavedModel(),
		tensorflow.NewKerasMetadata(),
		tensorflow.NewGraphDef(),
		chatjson.New(),
		h2o.NewPOJO(), // text that can look like a protocol 0 pickle
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
