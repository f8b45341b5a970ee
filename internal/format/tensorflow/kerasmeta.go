package tensorflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/kerascfg"
	"modelgate/internal/limits"
	"modelgate/internal/protoscan"
)

// KerasMetadata analyzes keras_metadata.pb, which tf.keras writes beside
// saved_model.pb: a SavedMetadata message whose nodes (SavedObject) carry
// each Keras object's config as JSON. Every node's JSON is checked with
// kerascfg, so a Lambda layer in a SavedModel is found like one in an .h5.
type KerasMetadata struct{}

// NewKerasMetadata returns the analyzer.
func NewKerasMetadata() *KerasMetadata { return &KerasMetadata{} }

// Name implements format.Analyzer.
func (*KerasMetadata) Name() string { return "keras-metadata" }

// SavedMetadata{nodes 1} and SavedObject{version 1, node_id 2,
// node_path 3, identifier 4, metadata 5} (keras/protobuf/saved_metadata.proto).
const (
	metadataNodes      = 1
	objectNodePath     = 3
	objectIdentifier   = 4
	objectMetadataJSON = 5
)

// Match implements format.Analyzer: nodes whose SavedObject fields have
// the right types and an identifier starting with "_tf_keras".
func (*KerasMetadata) Match(p *format.Probe) bool {
	if p.Size == 0 {
		return false
	}
	keras := false
	ok, _ := walkHead(p.Head, p.Size, func(num protowire.Number, typ protowire.Type, _ uint64, body []byte, _ bool) bool {
		if num != metadataNodes || typ != protowire.BytesType {
			return false
		}
		inner, _ := walkHead(body, int64(len(body))+1<<40, func(n protowire.Number, t protowire.Type, _ uint64, b []byte, _ bool) bool {
			switch {
			case n == 2 && t == protowire.VarintType:
				return true
			case n == objectIdentifier && t == protowire.BytesType:
				if bytes.HasPrefix(b, []byte("_tf_keras")) {
					keras = true
					return true
				}
				return false
			case (n == 1 || n == objectNodePath || n == objectMetadataJSON || n == 6) && t == protowire.BytesType:
				return true
			}
			return false
		})
		return inner
	})
	return ok && keras
}

// Analyze implements format.Analyzer.
func (a *KerasMetadata) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	s := protoscan.NewSource(in.R, in.Size)
	root := s.Root()
	var childErr error
	emit := kerascfg.ToEmitter(ctx, out, a.Name(), "", &childErr)
	for {
		f, ok, err := root.Next()
		if err != nil || !ok {
			return err
		}
		if f.Num != metadataNodes || f.Type != protowire.BytesType {
			continue
		}
		node := s.Sub(f)
		var path, ident string
		var meta *protoscan.Field
		for {
			g, ok, err := node.Next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if g.Type != protowire.BytesType {
				continue
			}
			switch g.Num {
			case objectNodePath:
				path, err = s.String(g, 1024)
			case objectIdentifier:
				ident, err = s.String(g, 256)
			case objectMetadataJSON:
				gg := g
				meta = &gg
			}
			if err != nil {
				return err
			}
		}
		if meta == nil || meta.Len == 0 {
			continue
		}
		src := fmt.Sprintf("keras_metadata node %s (%s)", path, ident)
		if meta.Len > kerascfg.DefaultMaxBytes {
			return limits.Exceeded("KerasConfigBytes", meta.Len, kerascfg.DefaultMaxBytes, meta.Off)
		}
		b, err := s.Bytes(*meta, kerascfg.DefaultMaxBytes)
		if err != nil {
			return err
		}
		if err := kerascfg.Check(ctx, b, kerascfg.Options{Rules: in.Rules, Policy: in.Policy, Source: src}, emit); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rule := finding.RuleParseError
			if errors.Is(err, limits.ErrLimit) {
				rule = finding.RuleLimit
			}
			fnd := in.Rules.New(rule, src+" could not be checked: "+err.Error(), "", meta.Off)
			fnd.Analyzer = a.Name()
			out.Finding(fnd)
		}
		if childErr != nil {
			return childErr
		}
	}
}
