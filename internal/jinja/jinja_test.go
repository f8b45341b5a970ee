package jinja

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/limits"
)

// TestRealTemplates holds the chat templates real models ship (written
// from their published formats) to no finding at all: loops, conditionals,
// raise_exception, namespace(), tojson, [::-1], macros, {% generation %},
// {% break %} and {% continue %} must all parse and stay clean.
func TestRealTemplates(t *testing.T) {
	files, err := filepath.Glob("testdata/benign/*.jinja")
	if err != nil || len(files) < 15 {
		t.Fatalf("want the benign template table, got %d files (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Check(context.Background(), string(src), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Parsed {
				t.Errorf("did not parse")
			}
			for _, is := range res.Issues {
				t.Errorf("false alarm: %s %q: %s [%s]", is.Rule, is.Name, is.Message, is.Snippet)
			}
		})
	}
}

// sstiCases are server-side template injection payloads, each with the
// rule it must raise (among others).
var sstiCases = []struct {
	name, src, rule string
}{
	{"mro subclasses", `{{ ''.__class__.__mro__[1].__subclasses__() }}`, finding.RuleJinjaDunder},
	{"cycler globals popen", `{{ cycler.__init__.__globals__.os.popen('echo pwned').read() }}`, finding.RuleJinjaGadgetGlobal},
	{"cycler globals dunder", `{{ cycler.__init__.__globals__.os.popen('echo pwned').read() }}`, finding.RuleJinjaDunder},
	{"joiner subscript", `{{ joiner.__init__.__globals__['os'].popen('echo pwned') }}`, finding.RuleJinjaGadgetGlobal},
	{"lipsum globals", `{{ lipsum.__globals__['os'].popen('echo pwned').read() }}`, finding.RuleJinjaDunder},
	{"namespace init", `{{ namespace.__init__.__globals__.os.popen('echo pwned').read() }}`, finding.RuleJinjaGadgetGlobal},
	{"self context", `{{ self._TemplateReference__context.cycler }}`, finding.RuleJinjaDunder},
	{"request app", `{{ request.application.__globals__.__builtins__.__import__('os').popen('echo pwned').read() }}`, finding.RuleJinjaGadgetGlobal},
	{"config bare", `{{ config.items() }}`, finding.RuleJinjaGadgetGlobal},
	{"url_for", `{{ url_for.__globals__ }}`, finding.RuleJinjaGadgetGlobal},
	{"attr filter chain", `{{ ()|attr('__class__')|attr('__base__')|attr('__subclasses__')() }}`, finding.RuleJinjaDunder},
	{"map attribute", `{{ messages|map(attribute='__class__')|list }}`, finding.RuleJinjaDunder},
	{"map attr filter", `{{ messages|map('attr', '__class__')|list }}`, finding.RuleJinjaDunder},
	{"selectattr", `{{ messages|selectattr('__class__')|list }}`, finding.RuleJinjaDunder},
	{"sort dotted attribute", `{{ messages|sort(attribute='role.__class__') }}`, finding.RuleJinjaDunder},
	{"tilde fragments", `{{ x|attr('__cla' ~ 'ss__') }}`, finding.RuleJinjaDunder},
	{"tilde underscores", `{{ x|attr('_'~'_'~'class'~'_'~'_') }}`, finding.RuleJinjaDunder},
	{"plus underscores", `{{ x['_'+'_'+'globals'+'_'+'_'] }}`, finding.RuleJinjaDunder},
	{"join list", `{{ x|attr(['_','_','class','_','_']|join) }}`, finding.RuleJinjaDunder},
	{"str join method", `{{ x|attr(''.join(['_','_','class','_','_'])) }}`, finding.RuleJinjaDunder},
	{"percent format filter", `{{ x|attr('%c%cclass%c%c'|format(95,95,95,95)) }}`, finding.RuleJinjaDunder},
	{"percent operator", `{{ x|attr('%c%cclass%c%c' % (95,95,95,95)) }}`, finding.RuleJinjaDunder},
	{"str format method", `{{ x|attr('{0}{0}class{0}{0}'.format('_')) }}`, finding.RuleJinjaDunder},
	{"replace filter", `{{ x|attr('xxclassxx'|replace('x','_')) }}`, finding.RuleJinjaDunder},
	{"replace method", `{{ x['yyglobalsyy'.replace('y','_')] }}`, finding.RuleJinjaDunder},
	{"reversed slice", `{{ x|attr('__ssalc__'[::-1]) }}`, finding.RuleJinjaDunder},
	{"reverse filter", `{{ x|attr('__ssalc__'|reverse) }}`, finding.RuleJinjaDunder},
	{"slice", `{{ x|attr('a__class__b'[1:-1]) }}`, finding.RuleJinjaDunder},
	{"repeat", `{{ x[('_' * 2) ~ 'class' ~ ('_' * 2)] }}`, finding.RuleJinjaDunder},
	{"upper lower", `{{ x|attr('__CLASS__'|lower) }}`, finding.RuleJinjaDunder},
	{"char from list", `{{ x|attr(('a_b'|list)[1] * 2 ~ 'class' ~ '__') }}`, finding.RuleJinjaDunder},
	{"chars from object repr", `{% set u = (()|select|string)[24] %}{{ x|attr(u ~ u ~ 'class' ~ u ~ u) }}`, finding.RuleJinjaComputedName},
	{"dict kwarg name", `{% set a = dict(__class__=1)|list|first %}{{ x|attr(a) }}`, finding.RuleJinjaDunder},
	{"dict kwarg underscore", `{% set u = dict(_=1)|list|first %}{{ x[u ~ u ~ 'class' ~ u ~ u] }}`, finding.RuleJinjaDunder},
	{"namespace accumulator", `{% set ns = namespace(s='') %}{% for c in ['_','_','c','l','a','s','s','_','_'] %}{% set ns.s = ns.s ~ c %}{% endfor %}{{ x[ns.s] }}`, finding.RuleJinjaComputedName},
	{"set chain", `{% set a = '_' %}{% set b = a ~ a %}{{ x|attr(b ~ 'class' ~ b) }}`, finding.RuleJinjaDunder},
	{"hex escapes", `{{ x['\x5f\x5fclass\x5f\x5f'] }}`, finding.RuleJinjaObfuscated},
	{"hex escapes decoded", `{{ x['\x5f\x5fclass\x5f\x5f'] }}`, finding.RuleJinjaDunder},
	{"unicode escapes", `{{ x|attr('\u005f\u005fclass\u005f\u005f') }}`, finding.RuleJinjaDunder},
	{"octal escapes", `{{ x|attr('\137\137class\137\137') }}`, finding.RuleJinjaDunder},
	{"named escapes", `{{ x|attr('\N{LOW LINE}\N{LOW LINE}class\N{LOW LINE}\N{LOW LINE}') }}`, finding.RuleJinjaDunder},
	{"str.format field", `{{ '{0.__class__.__base__}'.format(x) }}`, finding.RuleJinjaDunder},
	{"subscript globals", `{{ x['__globals__'] }}`, finding.RuleJinjaDunder},
	{"block set capture", `{% set a %}__class__{% endset %}{{ x|attr(a) }}`, finding.RuleJinjaDunder},
	{"mro method", `{{ x.mro() }}`, finding.RuleJinjaDunder},
	{"builtins eval", `{{ x.__init__.__globals__.__builtins__.eval('1') }}`, finding.RuleJinjaDunder},
	{"inside macro", `{% macro m() %}{{ ''.__class__ }}{% endmacro %}{{ m() }}`, finding.RuleJinjaDunder},
	{"inside generation", `{% generation %}{{ x.__class__ }}{% endgeneration %}`, finding.RuleJinjaDunder},
	{"request args name", `{{ x|attr(request.args.a) }}`, finding.RuleJinjaGadgetGlobal},
	{"attr variable", `{{ x|attr(name) }}`, finding.RuleJinjaComputedName},
	{"subscript concat vars", `{{ x[y ~ z] }}`, finding.RuleJinjaComputedName},
	{"runtime attribute folded", `{{ x['o'~'s'].popen('echo pwned') }}`, finding.RuleJinjaRuntimeAttr},
	{"lipsum stringified", `{{ lipsum|string }}`, finding.RuleJinjaGadgetGlobal},
	{"subclasses loop", `{% for c in ().__class__.__base__.__subclasses__() %}{% if 'Popen' in c.__name__ %}{{ c('echo pwned', shell=True) }}{% endif %}{% endfor %}`, finding.RuleJinjaDunder},
	{"builtins name", `{{ __builtins__ }}`, finding.RuleJinjaDunder},
	{"gonja backslash differential", `{{ '\\' }}{{ ''.__class__ }}{{ '' }}`, finding.RuleJinjaDunder},
	{"include", `{% include 'other.jinja' %}`, finding.RuleJinjaTemplateLoad},
	{"extends", `{% extends 'base.jinja' %}`, finding.RuleJinjaTemplateLoad},
	{"unparseable with payload", `{{ ''.__class__ }}{% bogus %}`, finding.RuleJinjaDunder},
	{"unparseable", `{% for %}`, finding.RuleJinjaParseError},
	{"unterminated string", `{{ 'abc }}`, finding.RuleJinjaParseError},
	{"format kwarg attrs", `{{ '{a.__globals__}'.format(a=x) }}`, finding.RuleJinjaDunder},
	{"inline if", `{{ x|attr('__class__' if y else 'a') }}`, finding.RuleJinjaDunder},
	{"set ns attr dunder", `{% set ns = namespace() %}{% set ns.__class__ = 1 %}`, finding.RuleJinjaDunder},
	{"with assignment", `{% with a = '_' ~ '_' %}{{ x|attr(a ~ 'class' ~ a) }}{% endwith %}`, finding.RuleJinjaDunder},
	{"private attribute", `{{ x._module }}`, finding.RuleJinjaDunder},
}

func TestSSTIPayloads(t *testing.T) {
	for _, tc := range sstiCases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Check(context.Background(), tc.src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, is := range res.Issues {
				if is.Rule == tc.rule {
					return
				}
				got = append(got, is.Rule+" "+is.Name)
			}
			t.Errorf("%s not raised for %s; got %v", tc.rule, tc.src, got)
		})
	}
}

// TestSSTIFailDefault: every payload above (but the merely unverifiable
// ones) raises something at high or above, which fails a default scan.
func TestSSTIFailDefault(t *testing.T) {
	rules := finding.Default()
	for _, tc := range sstiCases {
		res, _ := Check(context.Background(), tc.src, Options{})
		worst := finding.Info
		for _, f := range res.Findings(rules, "", 0) {
			worst = max(worst, f.Severity)
		}
		want := finding.High
		if tc.rule == finding.RuleJinjaParseError || tc.rule == finding.RuleJinjaTemplateLoad {
			want = finding.Medium
		}
		if worst < want {
			t.Errorf("%s: worst severity %s, want ≥ %s", tc.name, worst, want)
		}
	}
}

func TestFindingsOffsets(t *testing.T) {
	src := `hello {{ x.__class__ }}`
	res, err := Check(context.Background(), src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := res.Findings(finding.Default(), `key "t"`, 100)
	if len(fs) == 0 {
		t.Fatal("no findings")
	}
	f := fs[0]
	if f.Offset != 100+int64(strings.Index(src, "__class__")) && f.Offset != 100+int64(strings.Index(src, ".__class__")) {
		t.Errorf("offset %d does not point at the attribute", f.Offset)
	}
	if !strings.HasPrefix(f.Message, `key "t": `) || f.Evidence != "{{ x.__class__ }}" {
		t.Errorf("message %q evidence %q", f.Message, f.Evidence)
	}
	if fs := res.Findings(finding.Default(), "", finding.NoOffset); fs[0].Offset != finding.NoOffset {
		t.Errorf("NoOffset base gave %d", fs[0].Offset)
	}
}

func TestLimits(t *testing.T) {
	deep := "{{ " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + " }}"
	_, err := Check(context.Background(), deep, Options{})
	if !errors.Is(err, limits.ErrLimit) {
		t.Errorf("deep nesting: err %v, want a limit", err)
	}
	long := "{{ " + strings.Repeat("1 + ", 5000) + "1 }}{{ x.__class__ }}"
	res, err := Check(context.Background(), long, Options{})
	if !errors.Is(err, limits.ErrLimit) {
		t.Errorf("long tag: err %v, want a limit", err)
	}
	if res == nil || len(res.Issues) == 0 {
		t.Errorf("token checks must still run over a limit")
	}
	big := strings.Repeat("x", 100) + "{{ y }}"
	if _, err := Check(context.Background(), big, Options{MaxBytes: 50}); !errors.Is(err, limits.ErrLimit) {
		t.Errorf("size: err %v, want a limit", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	many := strings.Repeat("{{ a.b.c.d }}", 5000)
	if _, err := Check(ctx, many, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}

// TestJinjaSyntax holds ordinary Jinja constructs to a clean parse: each
// one gonja does not accept would turn into a parse-error finding.
func TestJinjaSyntax(t *testing.T) {
	for _, src := range []string{
		`{{ x is divisibleby 3 }}{{ x is not none }}{{ a not in b }}{{ 2 ** 3 // 2 }}`,
		`{% set a, b = 1, 2 %}{{ a }}`,
		`{{ [1, 2,] }}{{ {'a': 1,} }}{{ (1, 2) }}`,
		`{% for a in b recursive %}{{ loop(a.children) }}{% endfor %}`,
		`{% for a in b %}{{ loop.cycle('odd', 'even') }}{{ loop.revindex }}{% else %}none{% endfor %}`,
		`{% filter upper %}x{% endfilter %}`,
		`{{ "a" "b" }}`,
		`{{ x|default('a', true) }}{{ x|join(', ') }}{{ range(10)|list }}{{ x[1:] }}{{ -1 }}{{ not x }}`,
		`{{ x if y }}{{ 1 if x else 2 if y else 3 }}`,
		`{% if x %}a{% elif y %}b{% else %}c{% endif %}`,
		`{{ x.0 }}{{ x['a']['b'] }}{{ "%s"|format(x) }}{{ x|tojson|safe }}`,
		`{% raw %}{{ not parsed }}{% endraw %}{# comment #}`,
		`{{ x.items()|list }}{{ 'a' in x }}{{ x | selectattr('a', 'defined') | list }}`,
		`{%- set x = x | replace("\n", " ") %}{{ none }}{{ True }}{{ x ~ y }}`,
		`{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}inner{% endcall %}`,
		`{{ 'x'.upper() }}{{ x is string and x|length > 0 }}{{ (x|length) // 2 }}`,
		`{{ message['content'][0]['text'] }}{{ messages[-1].role }}{{ x[::2] }}`,
		`{% set ns = namespace(items=[]) %}{% set ns.items = ns.items + [1] %}{% do ns.items.append(2) %}`,
		`{{- '<|im_start|>' + ('user' if loop.first else 'assistant') + '\n' -}}`,
		`{{ x|map(attribute='name')|join(', ') }}{{ x|sort(attribute='role') }}{{ x|groupby('role') }}`,
		`{{ x|attr('content') }}{{ '{0}: {1}'.format(a, b) }}{{ '{name}'.format(name=n) }}`,
		`{% with a = 1 %}{{ a }}{% endwith %}`,
		`{{ x|string|length }}{{ x|int + 1 }}{{ x|float }}{{ x|abs }}{{ x|round }}`,
		`text with __dunder__ words and <__media__> markers outside tags {{ '<__media__>' }}`,
		`{{ tools|tojson(indent=2) }}{{ x|items|list }}{{ x|dictsort }}`,
		`{{ message.content.split('\n')[-1] }}{{ (messages|selectattr('role', 'equalto', 'user')|list)[-1] }}`,
	} {
		res, err := Check(context.Background(), src, Options{})
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if !res.Parsed {
			t.Errorf("did not parse: %s", src)
		}
		for _, is := range res.Issues {
			t.Errorf("%s: false alarm %s %q: %s", src, is.Rule, is.Name, is.Message)
		}
	}
}

// TestProseMentioningDunders: text that mentions dunders is not a name.
func TestProseMentioningDunders(t *testing.T) {
	src := `{{ 'Write Python: if __name__ == "__main__": main()' }}{{ 'Classes define __init__ to set fields.' ~ '\n' }}{% set s %}Call super().__init__() first.{% endset %}{{ s }}`
	res, err := Check(context.Background(), src, Options{})
	if err != nil || !res.Parsed || len(res.Issues) != 0 {
		t.Errorf("err %v parsed %v issues %+v", err, res.Parsed, res.Issues)
	}
	// ...but a name cut out of prose is caught where it is cut.
	cut := `{{ x|attr('Write __class__ here'.split(' ')[1]) }}{{ x|attr('Write __class__ here'[6:15]) }}`
	res, _ = Check(context.Background(), cut, Options{})
	n := 0
	for _, is := range res.Issues {
		if is.Rule == finding.RuleJinjaDunder {
			n++
		}
	}
	if n == 0 {
		t.Errorf("names cut from prose not caught: %+v", res.Issues)
	}
}
