package pysrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func names(r *Result) []string {
	var out []string
	for _, c := range r.Calls {
		out = append(out, c.Name)
	}
	return out
}

func TestAnalyzeCalls(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // qualified names, in order
	}{
		{"system", "import os\nos.system('echo pwned')\n", []string{"os.system"}},
		{"alias", "import subprocess as sp\nsp.run(['ls'])\n", []string{"subprocess.run"}},
		{"from", "from subprocess import Popen as P\nP('x', shell=True)\n", []string{"subprocess.Popen"}},
		{"star", "from os import *\nsystem('x')\n", []string{"os.system"}},
		{"builtins", "eval(code)\nexec(compile(src, 'f', 'exec'))\n", []string{"builtins.eval", "builtins.exec", "builtins.compile"}},
		{"method eval is not eval", "model.eval()\nself.exec = 1\nx.compile()\n", nil},
		{"getattr literal", "import os\ngetattr(os, 'system')('id')\n", []string{"os.system"}},
		{"getattr computed", "import os\nf = getattr(os, 'sys' + 'tem')\n", []string{"os.<computed>"}},
		{"import builtin", "__import__('os').system('id')\n", []string{"builtins.__import__"}},
		{"builtins dict", "__builtins__.eval('1')\n", []string{"__builtins__", "builtins.eval"}},
		{"network", "import requests, socket\nrequests.get(URL)\ns = socket.socket()\n", []string{"requests.get", "socket.socket"}},
		{"urllib", "from urllib.request import urlopen\nurlopen('http://x')\n", []string{"urllib.request.urlopen"}},
		{"torch.load", "import torch\ntorch.load(p)\ntorch.load(p, weights_only=True)\n", []string{"torch.load"}},
		{"numpy.load", "import numpy as np\nnp.load(p)\nnp.load(p, allow_pickle=True)\n", []string{"numpy.load"}},
		{"yaml", "import yaml\nyaml.load(s, Loader=yaml.SafeLoader)\nyaml.load(s)\nyaml.safe_load(s)\n", []string{"yaml.load"}},
		{"pickle", "import pickle\npickle.loads(blob)\n", []string{"pickle.loads"}},
		{"reference without call", "import os\nrun = os.system\nlist(map(os.popen, cmds))\n", []string{"os.system", "os.popen"}},
		{"trust_remote_code", "from transformers import AutoModel\nm = AutoModel.from_pretrained('evil/repo', trust_remote_code=True)\n", []string{"AutoModel.from_pretrained"}},
		{"comparison is not a keyword", "f(trust_remote_code == True)\n", nil},
		{"strings and comments hide nothing", "x = 'os.system(1)'  # eval(x)\ny = '''\nexec(z)\n'''\n", nil},
		{"continuation", "import os\nos.\\\nsystem('a')\n", []string{"os.system"}},
		{"multiline call", "import subprocess\nsubprocess.check_output(\n    ['a',\n     'b'],\n)\n", []string{"subprocess.check_output"}},
		{"os.path is fine", "import os\nos.path.join(a, b)\nos.environ.get('X')\n", nil},
		{"torch hub", "import torch\ntorch.hub.load('org/repo', 'model')\n", []string{"torch.hub.load"}},
		{"ctypes", "import ctypes\nctypes.CDLL('libc.so.6')\n", []string{"ctypes.CDLL"}},
		{"f-string", "import os\nx = f\"{os.system('id')} and {{not code}}\"\n", []string{"os.system"}},
		{"plain string", "import os\nx = \"{os.system('id')}\"\n", nil},
		{"semicolons", "import os; os.system('a'); x = 1\n", []string{"os.system"}},
		{"dotted import", "import importlib.util\nimportlib.util.spec_from_file_location('m', p)\n", []string{"importlib.util.spec_from_file_location"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Analyze([]byte(c.src))
			if got := names(r); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("calls = %v, want %v", got, c.want)
			}
			if r.Err != nil {
				t.Errorf("error %v", r.Err)
			}
		})
	}
}

func TestAtImportAndDetails(t *testing.T) {
	src := `import os, requests
requests.get("http://attacker/x")

class Model:
    def forward(self, x):
        os.system("id")
        return x
    os.system("class body runs at import")

def load():
    from transformers import AutoModel
    return AutoModel.from_pretrained("other/repo", trust_remote_code=True)
`
	r := Analyze([]byte(src))
	if len(r.Calls) != 4 {
		t.Fatalf("calls: %+v", r.Calls)
	}
	want := []struct {
		name     string
		line     int
		atImport bool
	}{{"requests.get", 2, true}, {"os.system", 6, false}, {"os.system", 8, true}, {"AutoModel.from_pretrained", 12, false}}
	for i, w := range want {
		c := r.Calls[i]
		if c.Name != w.name || c.Line != w.line || c.AtImport != w.atImport {
			t.Errorf("call %d = %s line %d atImport %v, want %+v", i, c.Name, c.Line, c.AtImport, w)
		}
	}
	if d := r.Calls[3].Detail; !strings.Contains(d, `"other/repo"`) || r.Calls[3].Category != RemoteCode {
		t.Errorf("trust_remote_code detail: %+v", r.Calls[3])
	}
	if r.Calls[1].Snippet != `os.system("id")` {
		t.Errorf("snippet %q", r.Calls[1].Snippet)
	}
}

func TestImports(t *testing.T) {
	src := "import torch.nn as nn, os\nfrom .configuration_x import XConfig\nfrom . import utils, helpers as h\nfrom ..pkg.mod import (A,\n  B)\nfrom typing import Optional\n"
	r := Analyze([]byte(src))
	if got := strings.Join(r.Imports, ","); got != "torch.nn,os,typing" {
		t.Errorf("imports %s", got)
	}
	if len(r.Relative) != 3 || r.Relative[0].Module != "configuration_x" || r.Relative[1].Module != "" ||
		strings.Join(r.Relative[1].Names, ",") != "utils,helpers" || r.Relative[2].Level != 2 || r.Relative[2].Module != "pkg.mod" {
		t.Errorf("relative %+v", r.Relative)
	}
}

func TestUnterminated(t *testing.T) {
	r := Analyze([]byte("import os\nos.system('a')\nx = '''never closed\nos.system('hidden?')\n"))
	if r.Err == nil || len(r.Calls) != 1 {
		t.Errorf("err %v calls %v", r.Err, r.Calls)
	}
}

func TestTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.py"))
	if len(files) == 0 {
		t.Skip("no testdata")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := Analyze(b)
		if r.Err != nil {
			t.Errorf("%s: %v", f, r.Err)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add([]byte("import os\nos.system('x')\n"))
	f.Add([]byte("from . import a\nclass A:\n  def f(self):\n    return getattr(os, x)(trust_remote_code=True)\n"))
	f.Add([]byte("x = f'''{eval(y)}'''\\\n"))
	f.Add([]byte("(((((\n'\\"))
	f.Fuzz(func(t *testing.T, src []byte) {
		r := Analyze(src)
		for _, c := range r.Calls {
			if c.Line < 1 || c.Name == "" {
				t.Fatalf("bad call %+v", c)
			}
		}
	})
}
