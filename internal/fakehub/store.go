package fakehub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SettingsFile, inside a repository folder, holds the repository's
// settings; it is not listed as a file of the repository.
const SettingsFile = ".fakehub.json"

// Settings are a repository's hub-side settings.
type Settings struct {
	// Gated is "", "auto" or "manual". A gated repository's files need a
	// token; its info and tree are public, as on the real hub.
	Gated string `json:"gated,omitempty"`
	// Granted lists the tokens given access to a gated repository; empty
	// means every accepted token.
	Granted []string `json:"granted,omitempty"`
	// Private repositories are visible only with an accepted token.
	Private     bool     `json:"private,omitempty"`
	Disabled    bool     `json:"disabled,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	PipelineTag string   `json:"pipeline_tag,omitempty"`
	LibraryName string   `json:"library_name,omitempty"`
}

// repo is one repository and the states it has been seen in.
type repo struct {
	typ, id   string // "models", "org/name"
	dir       string
	settings  Settings
	createdAt time.Time
	cur       *snapshot
	history   []*snapshot // oldest first
	bySHA     map[string]*snapshot
}

// snapshot is a repository at one commit. As in git, the commit sha
// hashes the tree (the file list: paths and git object ids) and the
// parent commit, so the same history always has the same shas and every
// change gives a new one.
type snapshot struct {
	sha          string
	tree         string
	lastModified time.Time
	files        []*blob // by path
	byPath       map[string]*blob
	dirs         map[string]bool // every folder, "" for the root
}

// blob is a file's content as it was hashed.
type blob struct {
	path    string // in the repository
	src     string // on disk
	size    int64
	modTime time.Time
	sha256  string
	gitOID  string // blob sha1 (of the pointer file for LFS)
	lfs     bool
	pointer int64 // LFS pointer size
}

// hashed remembers a file's hashes by its size and modification time.
type hashed struct {
	size         int64
	modTime      time.Time
	sha256, sha1 string
}

// lfsExt are extensions the hub's default .gitattributes puts in LFS.
var lfsExt = map[string]bool{
	".7z": true, ".arrow": true, ".bin": true, ".bz2": true, ".ckpt": true, ".ftz": true, ".gguf": true,
	".gz": true, ".h5": true, ".joblib": true, ".keras": true, ".lz4": true, ".mlmodel": true, ".model": true,
	".msgpack": true, ".nemo": true, ".npy": true, ".npz": true, ".onnx": true, ".ot": true, ".parquet": true,
	".pb": true, ".pickle": true, ".pkl": true, ".pt": true, ".pth": true, ".rar": true, ".safetensors": true,
	".tar": true, ".tflite": true, ".tgz": true, ".wasm": true, ".xz": true, ".zip": true, ".zst": true,
}

// scanRepos walks the folder: DIR/ORG/NAME are models, DIR/datasets/ORG/NAME
// and DIR/spaces/ORG/NAME datasets and spaces.
func scanRepos(dir string) (map[string]string, error) {
	out := map[string]string{} // "models/org/name" → folder
	if _, err := os.ReadDir(dir); err != nil {
		return nil, err
	}
	for _, typ := range []string{"models", "datasets", "spaces"} {
		base := dir
		if typ != "models" {
			base = filepath.Join(dir, typ)
		}
		orgs, _ := os.ReadDir(base)
		for _, o := range orgs {
			if !o.IsDir() || strings.HasPrefix(o.Name(), ".") || (typ == "models" && (o.Name() == "datasets" || o.Name() == "spaces")) {
				continue
			}
			names, _ := os.ReadDir(filepath.Join(base, o.Name()))
			for _, n := range names {
				if n.IsDir() && !strings.HasPrefix(n.Name(), ".") {
					out[typ+"/"+o.Name()+"/"+n.Name()] = filepath.Join(base, o.Name(), n.Name())
				}
			}
		}
	}
	return out, nil
}

// readSettings reads a repository's settings file, if any.
func readSettings(dir string) (Settings, error) {
	var s Settings
	b, err := os.ReadFile(filepath.Join(dir, SettingsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, SettingsFile), err)
	}
	return s, nil
}

// snapshotOf hashes a repository folder's files (reusing hashes of files
// whose size and time are unchanged).
func snapshotOf(dir string, lfsThreshold int64, cache map[string]hashed) (*snapshot, error) {
	s := &snapshot{byPath: map[string]*blob{}, dirs: map[string]bool{"": true}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			if rel != "." {
				s.dirs[rel] = true
			}
			return nil
		}
		if rel == SettingsFile || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		lfs := info.Size() >= lfsThreshold || lfsExt[strings.ToLower(path.Ext(rel))]
		h, ok := cache[p]
		if !ok || h.size != info.Size() || !h.modTime.Equal(info.ModTime()) {
			h, err = hashFile(p, !lfs)
			if err != nil {
				return err
			}
			cache[p] = h
		}
		b := &blob{path: rel, src: p, size: h.size, modTime: h.modTime, sha256: h.sha256, gitOID: h.sha1}
		if lfs {
			ptr := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", h.sha256, h.size)
			b.lfs, b.pointer, b.gitOID = true, int64(len(ptr)), gitBlobID([]byte(ptr))
		}
		s.files = append(s.files, b)
		s.byPath[rel] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(s.files, func(a, b *blob) int { return strings.Compare(a.path, b.path) })
	h := sha1.New()
	for _, b := range s.files {
		fmt.Fprintf(h, "%s\x00%s\n", b.path, b.gitOID)
	}
	s.tree = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// hashFile computes a file's sha256 and, for files kept in git rather
// than LFS, its git blob id, in one read.
func hashFile(p string, gitID bool) (hashed, error) {
	f, err := os.Open(p)
	if err != nil {
		return hashed{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return hashed{}, err
	}
	s2, s1 := sha256.New(), sha1.New()
	fmt.Fprintf(s1, "blob %d\x00", info.Size())
	var w io.Writer = s2
	if gitID {
		w = io.MultiWriter(s2, s1)
	}
	n, err := io.Copy(w, f)
	if err != nil {
		return hashed{}, err
	}
	if n != info.Size() {
		return hashed{}, fmt.Errorf("%s changed while it was hashed", p)
	}
	h := hashed{size: n, modTime: info.ModTime(), sha256: hex.EncodeToString(s2.Sum(nil))}
	if gitID {
		h.sha1 = hex.EncodeToString(s1.Sum(nil))
	}
	return h, nil
}

// commitID is the sha of a commit of tree on top of parent ("" for none).
func commitID(tree, parent string) string {
	h := sha1.New()
	fmt.Fprintf(h, "commit\x00tree %s\x00parent %s", tree, parent)
	return hex.EncodeToString(h.Sum(nil))
}

func gitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// treeOID is a stable id for a folder at a snapshot.
func (s *snapshot) treeOID(dir string) string {
	h := sha1.New()
	fmt.Fprintf(h, "tree %s\x00", s.tree)
	h.Write([]byte(dir))
	return hex.EncodeToString(h.Sum(nil))
}

// maxModTime is the newest file time in a snapshot.
func (s *snapshot) maxModTime() time.Time {
	var t time.Time
	for _, b := range s.files {
		if b.modTime.After(t) {
			t = b.modTime
		}
	}
	return t
}

// fresh reports whether a blob's file on disk still holds the content
// that was hashed.
func (b *blob) fresh() bool {
	info, err := os.Stat(b.src)
	return err == nil && info.Size() == b.size && info.ModTime().Equal(b.modTime)
}
