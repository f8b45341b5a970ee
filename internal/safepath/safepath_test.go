package safepath

import "testing"

func TestCheck(t *testing.T) {
	for p, bad := range map[string]bool{
		"model.onnx.data": false, "weights/part1.bin": false, "./a/b": false, "a/./b..c": false, "": false,
		"/etc/passwd": true, "../../etc/passwd": true, "subdir/../../etc/passwd": true, `..\..\x`: true,
		"a/../b": true, `C:\Windows\win.ini`: true, "c:/x": true, `\\server\share\x`: true, "//server/x": true,
		"file:///etc/passwd": true, "gs://bucket/x": true, "http://127.0.0.1/x": true, "~/.ssh/id_rsa": true,
		"a\x00b": true,
	} {
		if got := Check(p) != ""; got != bad {
			t.Errorf("Check(%q) = %q, want bad=%v", p, Check(p), bad)
		}
	}
}
