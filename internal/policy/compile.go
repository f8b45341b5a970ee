package policy

import "fmt"

// Compile merges the embedded default with one policy given as text rather
// than as a file: the gate keeps each tenant's policy in its store. source
// names the policy in Sources and in errors; ext (".toml", ".yaml" or "")
// picks the syntax as in Parse. The version depends only on the content, so
// the same text always compiles to the same Version.
func Compile(source string, text []byte, ext string) (*Policy, error) {
	var files []File
	for _, b := range [][]byte{defaultTOML, frameworksTOML} {
		f, err := Parse(b, ".toml")
		if err != nil {
			return nil, err
		}
		files = append(files, *f)
	}
	f, err := Parse(text, ext)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", source, err)
	}
	files = append(files, *f)
	return build(files, []string{"embedded default", source})
}
