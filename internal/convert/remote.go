package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"modelgate/internal/hub"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

// Remote converts the weights of a hub repository into outDir:
// hf://ORG/REPO[@REV] takes pytorch_model.bin.index.json and its shards,
// or pytorch_model.bin; hf://ORG/REPO/PATH takes the file or folder PATH.
//
// Every file is read at one commit. The checkpoints are first scanned
// where they are, with Range reads of only what the scan needs, so a
// dangerous repository is refused before anything large is fetched. Then
// they are downloaded into a temporary folder inside outDir and converted
// from there (and scanned again, so what is converted is what was
// scanned): a conversion reads every storage byte, in the output's
// order rather than the file's, and verification reads them again, which
// a local copy serves once from one sequential download whose hash the
// hub client checks, where remote reads would fetch blocks repeatedly.
func Remote(ctx context.Context, c *hub.Client, ref hub.Ref, hasToken bool, outDir string, opts Options) (*Result, error) {
	rev := cmpOr(ref.Revision, "main")
	info, err := c.Info(ctx, ref.At(rev), false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if !hub.IsCommit(info.SHA) {
		return nil, fmt.Errorf("%s: the hub gave no commit for revision %q", ref, rev)
	}
	if info.Gated != "" && !hasToken {
		return nil, fmt.Errorf("%s is gated (%s): accept its conditions on the hub, then set HF_TOKEN: %w", ref, info.Gated, hub.ErrGated)
	}
	at := ref.At(info.SHA)
	files, err := listFiles(ctx, c, at)
	if err != nil {
		return nil, err
	}
	sel, err := selectWeights(ref, files)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(outDir, ".modelgate-download-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	display := func(p string) string { r := ref; r.Path = p; return r.String() }
	local := map[string]string{} // local path → hf:// address
	fetch := func(e hub.TreeEntry) error {
		dst := filepath.Join(tmp, path.Base(e.Path))
		spec := hub.FileSpec{Repo: at, Path: e.Path, Size: e.Size, SHA256: e.SHA256()}
		if spec.SHA256 == "" {
			spec.GitOID = e.OID
		}
		if err := download(ctx, c.Open(ctx, spec), e.Size, dst); err != nil {
			return fmt.Errorf("%s: %w", display(e.Path), err)
		}
		local[dst] = display(e.Path)
		return nil
	}
	if sel.index != nil {
		// The index says which shards to fetch.
		if err := fetch(*sel.index); err != nil {
			return nil, err
		}
		idx, err := readIndex(filepath.Join(tmp, path.Base(sel.index.Path)))
		if err != nil {
			return nil, renameInputs(err, local)
		}
		if sel.weights, err = shardEntries(idx, sel.index.Path, files); err != nil {
			return nil, err
		}
	}
	outs := []string{}
	for _, e := range sel.weights {
		outs = append(outs, filepath.Join(outDir, OutputName(path.Base(e.Path))))
	}
	if sel.index != nil {
		outs = append(outs, filepath.Join(outDir, STIndex))
	}
	if err := checkOutputs(opts.Force, outs...); err != nil {
		return nil, err
	}
	if err := prescanRemote(ctx, c, at, sel.weights, display, &opts); err != nil {
		return nil, err
	}
	for _, e := range sel.weights {
		if err := fetch(e); err != nil {
			return nil, err
		}
	}
	var res *Result
	if sel.index != nil {
		res, err = sharded(ctx, tmp, filepath.Join(tmp, path.Base(sel.index.Path)), outDir, opts)
	} else {
		name := path.Base(sel.weights[0].Path)
		res, err = File(ctx, filepath.Join(tmp, name), filepath.Join(outDir, OutputName(name)), opts)
	}
	if err != nil {
		return nil, renameInputs(err, local)
	}
	for _, f := range res.Files {
		if d, ok := local[f.Input]; ok {
			f.Input = d
		}
	}
	return res, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// listFiles lists every file under the reference's path at its commit;
// the path may name a single file.
func listFiles(ctx context.Context, c *hub.Client, at hub.Ref) ([]hub.TreeEntry, error) {
	var files []hub.TreeEntry
	err := c.Tree(ctx, at, at.Path, true, func(e hub.TreeEntry) error {
		if e.Type == "file" {
			files = append(files, e)
		}
		return nil
	})
	if errors.Is(err, hub.ErrNotFound) && at.Path != "" {
		var got []hub.TreeEntry
		got, err = c.PathsInfo(ctx, at, []string{at.Path})
		for _, e := range got {
			if e.Type == "file" {
				files = append(files, e)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no files", at)
	}
	return files, nil
}

// selection is what Remote fetches: the checkpoints, or the shard index
// that names them.
type selection struct {
	weights []hub.TreeEntry
	index   *hub.TreeEntry
}

func selectWeights(ref hub.Ref, files []hub.TreeEntry) (*selection, error) {
	byPath := map[string]hub.TreeEntry{}
	for _, e := range files {
		byPath[e.Path] = e
	}
	if e, ok := byPath[ref.Path]; ok && ref.Path != "" && !strings.HasSuffix(e.Path, ".json") {
		return &selection{weights: []hub.TreeEntry{e}}, nil // one named file
	}
	dir := ref.Path
	if dir != "" {
		dir = strings.TrimSuffix(dir, "/") + "/"
	}
	if idx, ok := byPath[dir+PTIndex]; ok {
		if idx.Size > maxIndexSize {
			return nil, fmt.Errorf("%s is over %d bytes", idx.Path, maxIndexSize)
		}
		return &selection{index: &idx}, nil
	}
	if e, ok := byPath[dir+PTWeights]; ok {
		return &selection{weights: []hub.TreeEntry{e}}, nil
	}
	var names []string
	for _, e := range files {
		switch strings.ToLower(path.Ext(e.Path)) {
		case ".bin", ".pt", ".pth", ".ckpt":
			names = append(names, e.Path)
		}
	}
	hint := ""
	if len(names) > 0 {
		hint = "; name one of its checkpoints: " + strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("%s holds neither %s nor %s%s", ref, dir+PTWeights, dir+PTIndex, hint)
}

// shardEntries returns the listing's entries of the shards an index names
// (beside the index, by plain file name only).
func shardEntries(idx *shardIndex, idxPath string, files []hub.TreeEntry) ([]hub.TreeEntry, error) {
	byPath := map[string]hub.TreeEntry{}
	for _, e := range files {
		byPath[e.Path] = e
	}
	seen := map[string]bool{}
	var out []hub.TreeEntry
	for _, file := range sortedValues(idx.WeightMap) {
		if seen[file] {
			continue
		}
		seen[file] = true
		if !plainName(file) {
			return nil, &Refusal{Path: idxPath, Reasons: []string{fmt.Sprintf("it names %q, which is not a file name beside it", file)}}
		}
		p := path.Join(path.Dir(idxPath), file)
		e, ok := byPath[p]
		if !ok {
			return nil, &Refusal{Path: idxPath, Reasons: []string{fmt.Sprintf("it names %s, which the repository does not hold", p)}}
		}
		out = append(out, e)
	}
	return out, nil
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// prescanRemote scans the checkpoints where they are.
func prescanRemote(ctx context.Context, c *hub.Client, at hub.Ref, files []hub.TreeEntry, display func(string) string, opts *Options) error {
	var failed []*report.File
	for _, e := range files {
		spec := hub.FileSpec{Repo: at, Path: e.Path, Size: e.Size, SHA256: e.SHA256()}
		if spec.SHA256 == "" {
			spec.GitOID = e.OID
		}
		res := opts.Scanner.ScanEntry(ctx, scan.Entry{
			Path: display(e.Path), Size: e.Size, SHA256: spec.SHA256, Revision: at.Revision,
			Open: func(ctx context.Context) (scan.Content, error) { return c.Open(ctx, spec), nil },
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		if res.Status == report.StatusError {
			return fmt.Errorf("%s: %s", res.Path, res.Error)
		}
		if report.FileFails(res, opts.Threshold, opts.Strict, opts.Scanner.Rules()) {
			failed = append(failed, res)
		}
	}
	if len(failed) > 0 {
		return &ScanRefusal{Files: failed}
	}
	return nil
}

// download copies a remote file sequentially; the hub client checks the
// content hash the listing gave as the last byte is read.
func download(ctx context.Context, r io.ReaderAt, size int64, dst string) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 8<<20)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			f.Close()
			return err
		}
		n := int(min(int64(len(buf)), size-off))
		got, err := r.ReadAt(buf[:n], off)
		if got < n {
			f.Close()
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		off += int64(n)
	}
	return f.Close()
}

// renameInputs shows hub addresses instead of the download folder's paths
// in errors.
func renameInputs(err error, local map[string]string) error {
	var r *Refusal
	if errors.As(err, &r) {
		if d, ok := local[r.Path]; ok {
			r.Path = d
		}
		return err
	}
	var sr *ScanRefusal
	if errors.As(err, &sr) {
		for _, f := range sr.Files {
			if d, ok := local[f.Path]; ok {
				f.Path = d
			}
		}
		return err
	}
	return err
}
