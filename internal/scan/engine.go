package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
)

// ErrNoTargets is returned when Scan is given nothing to scan.
var ErrNoTargets = errors.New("no paths to scan")

// Options configure an Engine.
type Options struct {
	// Workers is how many files are scanned at once (default: all cores).
	Workers int
	Limits  Limits
	// Digest adds each top-level file's SHA-256 to its artifact.
	Digest bool
	Logger *slog.Logger
	// Progress, when set, is called after each artifact (from one goroutine
	// at a time).
	Progress func(done, total int, path string)
	// Tool names the producer in reports.
	Tool finding.Tool
}

// Engine detects formats and runs scanners over targets.
type Engine struct {
	scanners []Scanner
	opts     Options
	log      *slog.Logger
}

// New returns an engine. Scanners are tried in order; the first whose Match
// accepts the content wins, so put specific magic numbers before heuristics.
func New(scanners []Scanner, opts Options) *Engine {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{scanners: scanners, opts: opts, log: log}
}

// Detect returns the scanner for the content, or nil.
func (e *Engine) Detect(fi FileInfo) Scanner {
	for _, s := range e.scanners {
		if s.Match(fi) {
			return s
		}
	}
	return nil
}

// PathError reports a target that could not be read at all.
type PathError struct {
	Path string
	Err  error
}

func (e *PathError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *PathError) Unwrap() error { return e.Err }

// Scan walks the targets (files or directories, recursively) and scans every
// regular file. A target that does not exist or cannot be listed is an
// error; a file that cannot be read becomes an inconclusive artifact.
func (e *Engine) Scan(ctx context.Context, targets []string) (*finding.Report, error) {
	if len(targets) == 0 {
		return nil, ErrNoTargets
	}
	start := time.Now()
	var files []string
	for _, t := range targets {
		fs, err := collect(t)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	rep := &finding.Report{
		Tool:      e.opts.Tool,
		StartedAt: start.UTC(),
		Targets:   append([]string(nil), targets...),
		Artifacts: make([]finding.ArtifactResult, len(files)),
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var done atomic.Int64
	var progMu sync.Mutex
	for w := 0; w < min(e.opts.Workers, max(len(files), 1)); w++ {
		wg.Go(func() {
			for i := range jobs {
				rep.Artifacts[i] = e.ScanFile(ctx, files[i])
				if e.opts.Progress != nil {
					n := done.Add(1)
					progMu.Lock()
					e.opts.Progress(int(n), len(files), files[i])
					progMu.Unlock()
				}
			}
		})
	}
	for i := range files {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.DurationMS = time.Since(start).Milliseconds()
	rep.Finalize()
	return rep, nil
}

// collect lists the regular files under a target. Symlinked directories are
// not followed (loops); symlinked files are scanned.
func collect(target string) ([]string, error) {
	st, err := os.Stat(target)
	if err != nil {
		return nil, &PathError{Path: target, Err: unwrapPathErr(err)}
	}
	if !st.IsDir() {
		return []string{target}, nil
	}
	var out []string
	err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == target {
				return err
			}
			// An unreadable subdirectory is scanned as an inconclusive artifact.
			out = append(out, p)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != target {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil // sockets, devices, pipes
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, &PathError{Path: target, Err: unwrapPathErr(err)}
	}
	return out, nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ScanFile scans one file and never fails: problems become gaps.
func (e *Engine) ScanFile(ctx context.Context, path string) finding.ArtifactResult {
	start := time.Now()
	ar := finding.ArtifactResult{Artifact: finding.Artifact{Path: path}}
	res := e.scanFile(ctx, path, &ar.Artifact)
	ar.Artifact.Format = res.Format
	// Scanners copy the artifact before its digest and format are known.
	for i := range res.Findings {
		res.Findings[i].Artifact = ar.Artifact
	}
	ar.Findings = res.Findings
	ar.Members = res.Members
	switch {
	case !res.Coverage.Complete:
		ar.Status = finding.StatusInconclusive
		ar.Gaps = res.Coverage.Gaps
	case res.Format == "":
		ar.Status = finding.StatusSkipped
	default:
		ar.Status = finding.StatusComplete
	}
	ar.DurationMS = time.Since(start).Milliseconds()
	return ar
}

func (e *Engine) scanFile(ctx context.Context, path string, art *finding.Artifact) (res Result) {
	f, err := os.Open(path)
	if err != nil {
		r := Result{}
		r.Gap("cannot open: %v", unwrapPathErr(err))
		return r
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		r := Result{}
		r.Gap("cannot stat: %v", err)
		return r
	}
	if st.IsDir() {
		r := Result{}
		r.Gap("cannot list directory")
		return r
	}
	art.Size = st.Size()
	if e.opts.Digest {
		// Hash on another core while the scanner runs: the scanner reads
		// only what it needs, the digest needs every byte.
		type sum struct {
			hex string
			err error
		}
		ch := make(chan sum, 1)
		go func(ctx context.Context) {
			h, err := digest(ctx, io.NewSectionReader(f, 0, st.Size()))
			ch <- sum{h, err}
		}(ctx)
		defer func() {
			s := <-ch
			if s.err != nil {
				res.Gap("cannot read for digest: %v", s.err)
				return
			}
			art.SHA256 = s.hex
		}()
	}
	if e.opts.Limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.opts.Limits.Timeout)
		defer cancel()
	}
	in := &Input{
		FileInfo: FileInfo{Name: filepath.Base(path), Size: st.Size(), R: f},
		Artifact: *art,
		Limits:   e.opts.Limits,
		eng:      e,
		acc:      &accounting{},
	}
	head, err := readHead(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		r := Result{}
		r.Gap("cannot read: %v", err)
		return r
	}
	in.Head = head
	return e.run(ctx, in, true)
}

func digest(ctx context.Context, r io.Reader) (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readHead reads up to HeadSize bytes. Only a clean io.EOF means the content
// is short: a decoder's own io.ErrUnexpectedEOF (a truncated compressed
// stream) is an error, so a cut-off member is never taken for a small one.
func readHead(r io.Reader) ([]byte, error) {
	buf := make([]byte, HeadSize)
	n, idle := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return buf[:n], err
		}
		if idle = idle + 1; m > 0 {
			idle = 0
		}
		if idle > 100 {
			// A reader that returns (0, nil) forever.
			return buf[:n], io.ErrNoProgress
		}
	}
	return buf, nil
}

// modelExts are extensions that promise a model format: content we cannot
// recognise under such a name is inconclusive rather than skipped.
var modelExts = map[string]bool{
	".pkl": true, ".pickle": true, ".pt": true, ".pth": true, ".bin": true, ".ckpt": true,
	".joblib": true, ".dill": true, ".npy": true, ".npz": true, ".h5": true, ".hdf5": true,
	".keras": true, ".pb": true, ".onnx": true, ".gguf": true, ".ggml": true,
	".safetensors": true, ".tflite": true, ".mar": true, ".pdparams": true, ".sav": true,
	".model": true, ".mlmodel": true, ".torchscript": true, ".ptl": true, ".7z": true,
	".zip": true, ".tar": true, ".gz": true, ".tgz": true, ".bz2": true, ".xz": true,
	".zst": true, ".lz4": true, ".msgpack": true,
}

// run detects and scans one input, catching panics at this boundary.
func (e *Engine) run(ctx context.Context, in *Input, top bool) (res Result) {
	var s Scanner
	defer func() {
		if p := recover(); p != nil {
			name := "detection"
			if s != nil {
				name = s.Name() + " scanner"
			}
			e.log.Error("scanner panic", "where", name, "path", in.Artifact.Path, "member", in.Member, "panic", p, "stack", string(debug.Stack()))
			if s != nil {
				res.Format = s.Name()
			}
			res.Gap("%s: internal error in %s: %v", displayName(in), name, p)
		}
	}()
	s = e.Detect(in.FileInfo)
	if s == nil {
		res = Result{Coverage: Coverage{Complete: true}}
		if modelExts[in.Ext()] && in.Size > 0 {
			res.Gap("%s: content is not any supported model format (extension %s promises one)", displayName(in), in.Ext())
		}
		return res
	}
	if err := ctx.Err(); err != nil {
		res = Result{Format: s.Name()}
		res.Gap("%s: %v", displayName(in), err)
		return res
	}
	res, err := s.Scan(ctx, in)
	if res.Format == "" {
		res.Format = s.Name()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("time limit %s exceeded", in.Limits.Timeout)
		}
		res.Gap("%s: %v", displayName(in), err)
	}
	return res
}

func displayName(in *Input) string {
	if in.Member != "" {
		return in.Member
	}
	return in.Name
}

// accounting tracks budgets shared by all members of one artifact.
type accounting struct {
	expanded atomic.Int64
}

// ScanReaderAt analyses a container member that is available for random
// access (e.g. a stored zip entry) and returns its result; the caller merges
// it. name is the member's path inside this input.
func (in *Input) ScanReaderAt(ctx context.Context, name string, r io.ReaderAt, size int64) Result {
	child := in.child(name, size)
	if child == nil {
		res := Result{}
		res.Gap("%s: container nesting deeper than %d", in.MemberPath(name), in.Limits.MaxDepth)
		return res
	}
	head, err := readHead(io.NewSectionReader(r, 0, size))
	if err != nil {
		res := Result{}
		res.Gap("%s: read: %v", child.Member, err)
		return res
	}
	child.Head, child.R = head, r
	return in.finishChild(ctx, child)
}

// ScanStream analyses a member that can only be read as a stream (a
// compressed entry). open may be called twice: once to read the head for
// detection and, if a scanner wants the content, again to buffer it
// (in memory or a temporary file) under the decompression limits.
// packed is the compressed size for the ratio check, or -1 if unknown.
func (in *Input) ScanStream(ctx context.Context, name string, packed int64, open func() (io.ReadCloser, error)) Result {
	child := in.child(name, -1)
	if child == nil {
		res := Result{}
		res.Gap("%s: container nesting deeper than %d", in.MemberPath(name), in.Limits.MaxDepth)
		return res
	}
	fail := func(format string, args ...any) Result {
		res := Result{}
		res.Gap("%s: "+format, append([]any{child.Member}, args...)...)
		return res
	}
	rc, err := open()
	if err != nil {
		return fail("open: %v", err)
	}
	head, err := readHead(rc)
	rc.Close()
	if err != nil {
		return fail("decompress: %v", err)
	}
	child.Head = head
	child.Size = int64(len(head))
	if len(head) < HeadSize {
		// The whole member fits in the head: no second pass needed.
		child.R = bytesReaderAt(head)
		in.acc.expanded.Add(int64(len(head)))
		return in.finishChild(ctx, child)
	}
	if in.eng.Detect(FileInfo{Name: child.Name, Size: -1, Head: head, R: bytesReaderAt(head)}) == nil && !modelExts[child.Ext()] {
		// Not a format we analyse: don't pay for decompressing it.
		res := Result{Coverage: Coverage{Complete: true}}
		return res
	}
	buf, size, err := in.buffer(ctx, open, packed)
	if err != nil {
		return fail("%v", err)
	}
	defer buf.Close()
	child.R, child.Size = buf, size
	return in.finishChild(ctx, child)
}

func (in *Input) child(name string, size int64) *Input {
	if in.Depth+1 > in.Limits.MaxDepth {
		return nil
	}
	return &Input{
		FileInfo: FileInfo{Name: pathBase(name), Size: size},
		Artifact: in.Artifact,
		Member:   in.MemberPath(name),
		Depth:    in.Depth + 1,
		Limits:   in.Limits,
		eng:      in.eng,
		acc:      in.acc,
	}
}

func (in *Input) finishChild(ctx context.Context, child *Input) Result {
	res := in.eng.run(ctx, child, false)
	if res.Format != "" {
		res.Members++
	}
	return res
}

func pathBase(name string) string {
	name = strings.TrimRight(name, "/")
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		return name[i+1:]
	}
	return name
}
