package sign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// GitPaths are the repository files model_signing leaves out by default.
var GitPaths = []string{".git", ".gitattributes", ".github", ".gitignore"}

// Walk limits: a model tree larger than this is refused, not truncated.
const (
	maxFiles = 1 << 20
	maxDepth = 128
)

// readChunk is the read size per call; hashing throughput is flat above it.
const readChunk = 1 << 20

// HashOptions say how to hash a model.
type HashOptions struct {
	// Serialization is the method, hash, shard size and symlink policy.
	// IgnorePaths in it are recorded in the signature and applied.
	Serialization Serialization
	// IgnoreGitPaths leaves out .git, .gitattributes, .github and
	// .gitignore (recorded in the signature when signing).
	IgnoreGitPaths bool
	// Workers bounds parallel hashing (default GOMAXPROCS).
	Workers int
	// only restricts hashing to these model-relative paths (verification
	// with --ignore-unsigned-files).
	only map[string]bool
}

// PathError reports a model path that cannot be signed or verified as is:
// a symbolic link while links are not allowed, a special file, a path
// escaping the model.
type PathError struct {
	Path   string
	Reason string
}

func (e *PathError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }

// NormalizeIgnorePath turns a user-supplied ignore path into a
// model-relative POSIX path. Relative paths are taken relative to the
// model root; a path that names a location inside the model (absolute, or
// relative to the working directory and starting with the model path) is
// made relative to it. ok is false for a path outside the model.
func NormalizeIgnorePath(modelPath, p string) (rel string, ok bool) {
	if p == "" {
		return "", false
	}
	if abs, err := filepath.Abs(p); err == nil && (filepath.IsAbs(p) || strings.HasPrefix(filepath.Clean(p), filepath.Clean(modelPath)+string(filepath.Separator))) {
		root, err := filepath.Abs(modelPath)
		if err == nil {
			if r, err := filepath.Rel(root, abs); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && r != "." {
				return filepath.ToSlash(r), true
			}
		}
		if filepath.IsAbs(p) {
			return "", false
		}
	}
	c := path.Clean(filepath.ToSlash(p))
	if c == "." || c == ".." || strings.HasPrefix(c, "../") || path.IsAbs(c) {
		return "", false
	}
	return c, true
}

func ignored(rel string, ignore []string) bool {
	for _, ig := range ignore {
		if rel == ig || strings.HasPrefix(rel, ig+"/") {
			return true
		}
	}
	return false
}

// modelFile is one regular file of the model.
type modelFile struct {
	rel  string // model-relative POSIX path, "." for a one-file model
	abs  string
	size int64
}

// listFiles walks the model and returns its files, sorted, honouring the
// ignore list and symlink policy.
func listFiles(ctx context.Context, modelPath string, allowSymlinks bool, ignore []string, only map[string]bool) ([]modelFile, error) {
	lst, err := os.Lstat(modelPath)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if lst.Mode()&fs.ModeSymlink != 0 {
		if !allowSymlinks {
			return nil, &PathError{Path: modelPath, Reason: "is a symbolic link (use --allow-symlinks)"}
		}
		if lst, err = os.Stat(modelPath); err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
	}
	if lst.Mode().IsRegular() {
		return []modelFile{{rel: ".", abs: modelPath, size: lst.Size()}}, nil
	}
	if !lst.IsDir() {
		return nil, &PathError{Path: modelPath, Reason: "is neither a regular file nor a directory"}
	}
	var files []modelFile
	var walk func(dir, relDir string, depth int) error
	walk = func(dir, relDir string, depth int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if depth > maxDepth {
			return &PathError{Path: dir, Reason: fmt.Sprintf("directory nesting deeper than %d", maxDepth)}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("read model directory: %w", err)
		}
		for _, e := range entries {
			rel := e.Name()
			if relDir != "" {
				rel = relDir + "/" + e.Name()
			}
			if ignored(rel, ignore) {
				continue
			}
			abs := filepath.Join(dir, e.Name())
			mode := e.Type()
			if mode&fs.ModeSymlink != 0 {
				if !allowSymlinks {
					return &PathError{Path: rel, Reason: "is a symbolic link (use --allow-symlinks)"}
				}
				st, err := os.Stat(abs)
				if err != nil {
					return &PathError{Path: rel, Reason: "is a broken symbolic link"}
				}
				if st.IsDir() {
					continue // as model_signing: linked directories are not descended
				}
				if !st.Mode().IsRegular() {
					return &PathError{Path: rel, Reason: "links to a special file"}
				}
				if only == nil || only[rel] {
					files = append(files, modelFile{rel: rel, abs: abs, size: st.Size()})
				}
				continue
			}
			switch {
			case mode.IsDir():
				if err := walk(abs, rel, depth+1); err != nil {
					return err
				}
			case mode.IsRegular():
				if only != nil && !only[rel] {
					continue
				}
				info, err := e.Info()
				if err != nil {
					return fmt.Errorf("stat %s: %w", rel, err)
				}
				files = append(files, modelFile{rel: rel, abs: abs, size: info.Size()})
			default:
				return &PathError{Path: rel, Reason: "is a special file (device, socket or pipe)"}
			}
			if len(files) > maxFiles {
				return &PathError{Path: modelPath, Reason: fmt.Sprintf("more than %d files", maxFiles)}
			}
		}
		return nil
	}
	if err := walk(modelPath, "", 0); err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b modelFile) int { return comparePaths(a.rel, b.rel) })
	return files, nil
}

// job is one hashing unit: a whole file or a shard of it.
type job struct {
	file       int
	start, end int64
	whole      bool
}

// Hash serializes the model at modelPath into a manifest.
func Hash(ctx context.Context, modelPath string, o HashOptions) (*Manifest, error) {
	m, _, err := hashModel(ctx, modelPath, o)
	return m, err
}

// hashModel also returns every hashed file with its size.
func hashModel(ctx context.Context, modelPath string, o HashOptions) (*Manifest, map[string]int64, error) {
	s := o.Serialization
	if s.Method == "" {
		s.Method = MethodFiles
	}
	if s.Hash == "" {
		s.Hash = SHA256
	}
	if s.Method == MethodShards && s.ShardSize == 0 {
		s.ShardSize = DefaultShardSize
	}
	if s.Method == MethodFiles {
		s.ShardSize = 0
	}
	if err := s.validate(); err != nil {
		return nil, nil, err
	}
	ignore := slices.Clone(s.IgnorePaths)
	if o.IgnoreGitPaths {
		ignore = append(ignore, GitPaths...)
	}
	files, err := listFiles(ctx, modelPath, s.AllowSymlinks, ignore, o.only)
	if err != nil {
		return nil, nil, err
	}
	present := make(map[string]int64, len(files))
	var jobs []job
	var total int64
	for i, f := range files {
		total += f.size
		present[f.rel] = f.size
		if s.Method == MethodFiles {
			jobs = append(jobs, job{file: i, end: f.size, whole: true})
			continue
		}
		for start := int64(0); start < f.size; start += s.ShardSize {
			jobs = append(jobs, job{file: i, start: start, end: min(start+s.ShardSize, f.size)})
		}
	}
	digests, err := runJobs(ctx, files, jobs, s.Hash, o.Workers)
	if err != nil {
		return nil, nil, err
	}
	m := &Manifest{
		ModelName:     modelName(modelPath),
		Serialization: s,
		Files:         len(files),
		Bytes:         total,
	}
	m.Serialization.IgnorePaths = nil
	m.Resources = make([]Resource, len(jobs))
	for i, j := range jobs {
		r := Resource{Path: files[j.file].rel, Digest: digests[i], Algorithm: string(s.Hash)}
		if s.Method == MethodShards {
			r.Sharded, r.Start, r.End = true, j.start, j.end
		}
		m.Resources[i] = r
	}
	sortResources(m.Resources)
	return m, present, nil
}

// modelName is the last path element, as model_signing records it.
func modelName(p string) string {
	base := filepath.Base(p)
	if base == "." || base == ".." || base == string(filepath.Separator) {
		if abs, err := filepath.Abs(p); err == nil {
			base = filepath.Base(abs)
		}
	}
	return base
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// runJobs hashes every job with a bounded worker pool. Each byte of each
// file is read exactly once, in readChunk pieces.
func runJobs(ctx context.Context, files []modelFile, jobs []job, h HashAlgorithm, workers int) ([][]byte, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(len(jobs), 1))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([][]byte, len(jobs))
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, err := hashRange(ctx, files[jobs[i].file], jobs[i], h)
				if err != nil {
					fail(err)
					continue
				}
				out[i] = d
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// pipelineMin is the range size above which reading runs one chunk ahead
// of hashing in a second goroutine, so copying from the page cache (or
// waiting on the disk) overlaps with the hash instead of adding to it.
const pipelineMin = 8 * readChunk

func hashRange(ctx context.Context, f modelFile, j job, h HashAlgorithm) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fh, err := os.Open(f.abs)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", f.rel, err)
	}
	defer fh.Close()
	d := h.New()
	if j.end-j.start >= pipelineMin {
		err = hashPipelined(ctx, fh, j.start, j.end, d)
	} else {
		bp := bufPool.Get().(*[]byte)
		err = hashSequential(ctx, fh, j.start, j.end, d, *bp)
		bufPool.Put(bp)
	}
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", f.rel, err)
	}
	if j.whole {
		// A file that grew after it was listed would be signed short.
		var one [1]byte
		if n, _ := fh.ReadAt(one[:], j.end); n > 0 {
			return nil, fmt.Errorf("hash %s: file grew while hashing", f.rel)
		}
	}
	return d.Sum(nil), nil
}

var errShrank = errors.New("file shrank while hashing")

// readFull reads len(buf) bytes at off; a short file is errShrank.
func readFull(fh *os.File, buf []byte, off int64) error {
	n, err := fh.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return errShrank
	}
	return err
}

func hashSequential(ctx context.Context, fh *os.File, off, end int64, d io.Writer, buf []byte) error {
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(len(buf)), end-off)
		if err := readFull(fh, buf[:n], off); err != nil {
			return err
		}
		d.Write(buf[:n])
		off += n
	}
	return nil
}

// hashPipelined reads [off, end) in a goroutine through two buffers while
// the caller hashes: each byte is still read once, in order.
func hashPipelined(ctx context.Context, fh *os.File, off, end int64, d io.Writer) error {
	type chunk struct {
		bp  *[]byte
		n   int64
		err error
	}
	full := make(chan chunk, 1)
	free := make(chan *[]byte, 2)
	free <- bufPool.Get().(*[]byte)
	free <- bufPool.Get().(*[]byte)
	stop := make(chan struct{})
	go func() {
		defer close(full)
		for pos := off; pos < end; {
			var bp *[]byte
			select {
			case bp = <-free:
			case <-stop:
				return
			}
			n := min(int64(len(*bp)), end-pos)
			err := readFull(fh, (*bp)[:n], pos)
			select {
			case full <- chunk{bp, n, err}:
			case <-stop:
				bufPool.Put(bp)
				return
			}
			if err != nil {
				return
			}
			pos += n
		}
	}()
	var err error
	for c := range full {
		if err == nil {
			err = c.err
		}
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			d.Write((*c.bp)[:c.n])
		}
		free <- c.bp
		if err != nil {
			break
		}
	}
	close(stop)
	for range full { // drain: the reader exits on stop
	}
	close(free)
	for bp := range free {
		bufPool.Put(bp)
	}
	return err
}
