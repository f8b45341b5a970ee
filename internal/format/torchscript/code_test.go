package torchscript

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every source torch.jit.save wrote for the fixtures and the corpus is
// clean.
func TestFrameworkSourcesAreClean(t *testing.T) {
	var files []string
	for _, dir := range []string{"../fixtures/testdata/benign", "../../../testdata/corpus/benign/torch"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.pt*"))
		files = append(files, m...)
	}
	n := 0
	for _, f := range files {
		zr, err := zip.OpenReader(f)
		if err != nil {
			continue
		}
		for _, zf := range zr.File {
			if !strings.Contains(zf.Name, "/code/") || !strings.HasSuffix(zf.Name, ".py") {
				continue
			}
			rc, _ := zf.Open()
			src, _ := io.ReadAll(rc)
			rc.Close()
			n++
			if p := CheckSource(src); len(p) > 0 {
				t.Errorf("%s %s: %+v", filepath.Base(f), zf.Name, p)
			}
		}
		zr.Close()
	}
	if n < 10 {
		t.Fatalf("only %d sources checked", n)
	}
}

func TestCheckSource(t *testing.T) {
	for src, want := range map[string]string{
		"def forward(self, x):\n  return torch.relu(x)\n":                      "",
		"def f(self, x):\n  _0 = os.system(\"echo pwned\")\n  return x\n":      "os.system!",
		"def f(self, x):\n  return eval(\"1+1\")\n":                            "eval!",
		"def f(self, x):\n  return __import__('os').system('id')\n":            "__import__!",
		"def f(self, x):\n  y = builtins.open('/etc/passwd')\n":                "builtins.open!",
		"def f(self, x):\n  return ops.myext.run(x)\n":                         "ops.myext.run+",
		"def f(self, x):\n  return ops.aten.add(x, x)\n":                       "",
		"def f(self, x):\n  return requests_like.get(x)\n":                     "requests_like.get",
		"import subprocess\ndef f(self):\n  pass\n":                            "subprocess!",
		"def f(self, fn: Callable):\n  return fn(1)\n":                         "",
		"def f(self):\n  g = __torch__.helper\n  return g(2)\n":                "",
		"def f(self):\n  s = \"os.system('x')\"  # os.system(1)\n  return s\n": "",
		"def f(self):\n  s = '''\nos.system(1)\n'''\n  return s\n":             "",
		"def f(self, x):\n  return (x).forward(x, )\n":                         "",
		"def f(self, x):\n  return x.view(torch.size(x)).sum()\n":              "",
		"class A(Module):\n  def forward(self):\n    return self.helper(1)\n":  "",
	} {
		got := ""
		for _, p := range CheckSource([]byte(src)) {
			got = p.Name
			if p.Danger {
				got += "!"
			}
			if p.CustomOp {
				got += "+"
			}
			break
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", src, got, want)
		}
	}
}

func FuzzCheckSource(f *testing.F) {
	if b, err := os.ReadFile("/dev/null"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("def forward(self, x):\n  return torch.relu(x)\n"))
	f.Add([]byte("import os\nclass A(Module):\n  def f(self, a: int=1):\n    for i, j in x:\n      os.system(r'''x\n''')\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range CheckSource(b) {
			if p.Name == "" || p.Line < 1 {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}
