package jinja

import (
	"errors"
	"fmt"
	"io"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// controlSet is gonja's set of tags with the changes a checker needs:
// {% generation %} (a transformers extension that marks assistant output
// for training masks) parses as a plain block, and {% extends %} records
// its argument instead of loading a template at parse time.
type controlSet struct{}

func (controlSet) Get(name string) (parser.ControlStructureParser, bool) {
	switch name {
	case "generation":
		return parseGeneration, true
	case "extends":
		return parseExtends, true
	}
	return builtins.ControlStructures.Get(name)
}

// generationTag is {% generation %}…{% endgeneration %}.
type generationTag struct {
	Location *tokens.Token
	Wrapper  *nodes.Wrapper
}

func (g *generationTag) Position() *tokens.Token { return g.Location }
func (g *generationTag) String() string          { return "generation" }

func parseGeneration(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	tag := &generationTag{Location: p.Current()}
	if !args.End() {
		return nil, args.Error("generation takes no arguments", args.Current())
	}
	w, end, err := p.WrapUntil("endgeneration")
	if err != nil {
		return nil, err
	}
	if !end.End() {
		return nil, end.Error("endgeneration takes no arguments", end.Current())
	}
	tag.Wrapper = w
	return tag, nil
}

// extendsTag is {% extends expr %}, never resolved.
type extendsTag struct {
	Location *tokens.Token
	Name     nodes.Expression
}

func (e *extendsTag) Position() *tokens.Token { return e.Location }
func (e *extendsTag) String() string          { return "extends" }

func parseExtends(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	tag := &extendsTag{Location: p.Current()}
	expr, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	tag.Name = expr
	return tag, nil
}

// noLoader refuses every template a parse might try to load.
type noLoader struct{}

var errNoLoad = errors.New("templates are never loaded")

func (noLoader) Read(string) (io.Reader, error)         { return nil, errNoLoad }
func (noLoader) Resolve(string) (string, error)         { return "", errNoLoad }
func (noLoader) Inherit(string) (loaders.Loader, error) { return nil, errNoLoad }

// parse parses a rewritten template with gonja. gonja is a port, not a
// fuzzed parser of hostile input, so a panic inside it is turned into a
// parse error (the checker then falls back to its token checks).
func parse(src string) (tpl *nodes.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			tpl, err = nil, fmt.Errorf("parser failed: %v", r)
		}
	}()
	cfg := config.New()
	return parser.NewParser("chat_template", tokens.LexAll(src, cfg), cfg, noLoader{}, controlSet{}).Parse()
}
