package convert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// The file names transformers gives PyTorch weights and their
// safetensors counterparts.
const (
	PTWeights = "pytorch_model.bin"
	PTIndex   = "pytorch_model.bin.index.json"
	STWeights = "model.safetensors"
	STIndex   = "model.safetensors.index.json"
)

// maxIndexSize bounds a shard index read into memory.
const maxIndexSize = 64 << 20

// OutputName is the safetensors name of a checkpoint file, as the hub's
// converter renames: the extension becomes .safetensors and
// "pytorch_model" becomes "model" (pytorch_model-00001-of-00002.bin →
// model-00001-of-00002.safetensors).
func OutputName(name string) string {
	base := strings.TrimSuffix(name, filepath.Ext(name))
	return strings.Replace(base, "pytorch_model", "model", 1) + ".safetensors"
}

// Dir converts the weights of a model folder into outDir: the shards
// pytorch_model.bin.index.json lists (with model.safetensors.index.json
// written last), or else pytorch_model.bin.
func Dir(ctx context.Context, dir, outDir string, opts Options) (*Result, error) {
	idx := filepath.Join(dir, PTIndex)
	if _, err := os.Stat(idx); err == nil {
		return sharded(ctx, dir, idx, outDir, opts)
	}
	single := filepath.Join(dir, PTWeights)
	if _, err := os.Stat(single); err == nil {
		return File(ctx, single, filepath.Join(outDir, STWeights), opts)
	}
	return nil, fmt.Errorf("%s holds neither %s nor %s%s", dir, PTWeights, PTIndex, candidates(dir))
}

// candidates lists checkpoint-like files of a folder for an error message.
func candidates(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".bin", ".pt", ".pth", ".ckpt":
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("; convert one of its checkpoints by name: %s", strings.Join(names, ", "))
}

// shardIndex is a transformers shard index.
type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

func readIndex(path string) (*shardIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxIndexSize {
		return nil, &Refusal{Path: path, Reasons: []string{fmt.Sprintf("the index is over %d bytes", maxIndexSize)}}
	}
	var idx shardIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, &Refusal{Path: path, Reasons: []string{"not a shard index: " + err.Error()}}
	}
	if len(idx.WeightMap) == 0 {
		return nil, &Refusal{Path: path, Reasons: []string{"the index's weight_map is empty"}}
	}
	return &idx, nil
}

// plainName reports a file name with no folder part, which is all a shard
// index may name: "../x" or "/etc/x" must not lead elsewhere.
func plainName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\\\x00") && filepath.Base(n) == n
}

// sharded converts every shard an index lists, then writes the new index.
func sharded(ctx context.Context, dir, idxPath, outDir string, opts Options) (*Result, error) {
	idx, err := readIndex(idxPath)
	if err != nil {
		return nil, err
	}
	var shards []string
	seen := map[string]bool{}
	for name, file := range idx.WeightMap {
		if !plainName(file) {
			return nil, &Refusal{Path: idxPath, Reasons: []string{fmt.Sprintf("tensor %q is in %q, which is not a file name in the folder", name, file)}}
		}
		if !seen[file] {
			seen[file] = true
			shards = append(shards, file)
		}
	}
	sort.Strings(shards)
	outs := map[string]string{}
	outPaths := []string{filepath.Join(outDir, STIndex)}
	taken := map[string]bool{}
	for _, s := range shards {
		o := OutputName(s)
		if seen[o] || taken[o] || !plainName(o) {
			return nil, &Refusal{Path: idxPath, Reasons: []string{fmt.Sprintf("shard %q would be written as %q, which another file already uses", s, o)}}
		}
		taken[o] = true
		outs[s] = o
		outPaths = append(outPaths, filepath.Join(outDir, o))
	}
	if err := checkOutputs(opts.Force, outPaths...); err != nil {
		return nil, err
	}
	ins := make([]string, len(shards))
	for i, s := range shards {
		ins[i] = filepath.Join(dir, s)
	}
	if err := prescan(ctx, &opts, ins); err != nil {
		return nil, err
	}
	var jobs []*job
	defer func() {
		for _, j := range jobs {
			j.discard()
		}
	}()
	for i, s := range shards {
		j, err := prepare(ctx, &opts, ins[i], filepath.Join(outDir, outs[s]))
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
		if err := matchIndex(idx, s, j); err != nil {
			return nil, &Refusal{Path: idxPath, Reasons: []string{err.Error()}}
		}
	}
	for _, j := range jobs {
		if err := j.run(ctx); err != nil {
			return nil, err
		}
	}
	res := &Result{Index: outPaths[0]}
	var total int64
	for _, j := range jobs {
		if err := j.commit(); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, j.res)
		total += j.res.Bytes
	}
	if err := writeIndex(idx, outs, total, res.Index); err != nil {
		return nil, err
	}
	return res, nil
}

// matchIndex checks that a shard holds exactly the tensors the index
// places in it (dropped aliases count: the index still names them).
func matchIndex(idx *shardIndex, shard string, j *job) error {
	have := map[string]bool{}
	for _, nt := range j.plan.keep {
		have[nt.Name] = true
	}
	for n := range j.plan.aliases {
		have[n] = true
	}
	var missing, extra []string
	for name, file := range idx.WeightMap {
		if file == shard && !have[name] {
			missing = append(missing, name)
		}
	}
	for name := range have {
		if idx.WeightMap[name] != shard {
			extra = append(extra, name)
		}
	}
	switch {
	case len(missing) > 0:
		slices.Sort(missing)
		return fmt.Errorf("the index places %q in %s, which does not hold it", missing[0], shard)
	case len(extra) > 0:
		slices.Sort(extra)
		return fmt.Errorf("%s holds %q, which the index places elsewhere", shard, extra[0])
	}
	return nil
}

// writeIndex writes model.safetensors.index.json: the input's index with
// the shard names renamed and total_size the bytes actually written.
func writeIndex(idx *shardIndex, outs map[string]string, total int64, path string) error {
	meta := map[string]any{}
	for k, v := range idx.Metadata {
		meta[k] = v
	}
	meta["total_size"] = total
	wm := make(map[string]string, len(idx.WeightMap))
	for name, file := range idx.WeightMap {
		wm[name] = outs[file]
	}
	b, err := json.MarshalIndent(shardIndex{Metadata: meta, WeightMap: wm}, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic writes a small file through a temporary file and a
// rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	err = errors.Join(err, tmp.Chmod(0o644), tmp.Sync())
	err = errors.Join(err, tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}
