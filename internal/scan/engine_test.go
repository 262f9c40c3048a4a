package scan

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
)

var testRule = finding.MustRegister(finding.Rule{
	ID: "MLS-TEST-900", Name: "EngineTest", Title: "engine test marker",
	Severity: finding.High, Summary: "Emitted by the engine tests.",
})

// markerScanner flags content that starts with "EVIL".
type markerScanner struct{}

func (markerScanner) Name() string { return "marker" }
func (markerScanner) Match(f FileInfo) bool {
	return bytes.HasPrefix(f.Head, []byte("EVIL")) || bytes.HasPrefix(f.Head, []byte("GOOD"))
}
func (markerScanner) Scan(_ context.Context, in *Input) (Result, error) {
	res := NewResult("marker")
	if bytes.HasPrefix(in.Head, []byte("EVIL")) {
		res.Add(in.NewFinding(testRule))
	}
	return res, nil
}

// panicScanner panics on content starting with "BOOM".
type panicScanner struct{}

func (panicScanner) Name() string          { return "boom" }
func (panicScanner) Match(f FileInfo) bool { return bytes.HasPrefix(f.Head, []byte("BOOM")) }
func (panicScanner) Scan(context.Context, *Input) (Result, error) {
	panic("kaboom")
}

// errScanner fails on content starting with "FAIL" after one finding.
type errScanner struct{}

func (errScanner) Name() string          { return "fail" }
func (errScanner) Match(f FileInfo) bool { return bytes.HasPrefix(f.Head, []byte("FAIL")) }
func (errScanner) Scan(_ context.Context, in *Input) (Result, error) {
	res := NewResult("fail")
	res.Add(in.NewFinding(testRule))
	return res, errors.New("truncated")
}

// gzScanner is a minimal container: it scans the gunzipped stream.
type gzScanner struct{}

func (gzScanner) Name() string          { return "gz" }
func (gzScanner) Match(f FileInfo) bool { return bytes.HasPrefix(f.Head, []byte{0x1f, 0x8b}) }
func (gzScanner) Scan(ctx context.Context, in *Input) (Result, error) {
	res := NewResult("gz")
	open := func() (io.ReadCloser, error) { return gzip.NewReader(in.Open()) }
	res.Merge(in.ScanStream(ctx, strings.TrimSuffix(in.Name, ".gz"), in.Size, open))
	return res, nil
}

func newTestEngine(lim Limits) *Engine {
	return New([]Scanner{gzScanner{}, markerScanner{}, panicScanner{}, errScanner{}}, Options{Limits: lim, Digest: true})
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestScanFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := append([]byte("EVIL"), bytes.Repeat([]byte{0}, 3*HeadSize)...)
	files := map[string][]byte{
		"evil.bin":     []byte("EVIL payload"),
		"good.bin":     []byte("GOOD"),
		"readme.md":    []byte("# hello"),
		"weights.pt":   []byte("\x00\x01garbage"),
		"boom.bin":     []byte("BOOM"),
		"fail.bin":     []byte("FAIL"),
		"evil.pkl.gz":  gz(t, []byte("EVIL small")),
		"evilbig.gz":   gz(t, big),
		"notamodel.gz": gz(t, bytes.Repeat([]byte("text "), 5000)),
		"empty.pt":     {},
		"nested.gz.gz": gz(t, gz(t, []byte("EVIL deep"))),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		status   finding.Status
		format   string
		findings int
		member   string
		gap      string
	}{
		{"evil.bin", finding.StatusComplete, "marker", 1, "", ""},
		{"good.bin", finding.StatusComplete, "marker", 0, "", ""},
		{"readme.md", finding.StatusSkipped, "", 0, "", ""},
		{"weights.pt", finding.StatusInconclusive, "", 0, "", "not any supported model format"},
		{"empty.pt", finding.StatusSkipped, "", 0, "", ""},
		{"boom.bin", finding.StatusInconclusive, "boom", 0, "", "internal error in boom scanner: kaboom"},
		{"fail.bin", finding.StatusInconclusive, "fail", 1, "", "truncated"},
		{"evil.pkl.gz", finding.StatusComplete, "gz", 1, "evil.pkl", ""},
		{"evilbig.gz", finding.StatusComplete, "gz", 1, "evilbig", ""},
		{"notamodel.gz", finding.StatusComplete, "gz", 0, "", ""},
		{"nested.gz.gz", finding.StatusComplete, "gz", 1, "nested.gz!nested", ""},
	}
	eng := newTestEngine(DefaultLimits())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ar := eng.ScanFile(context.Background(), filepath.Join(dir, tt.name))
			if ar.Status != tt.status || ar.Artifact.Format != tt.format || len(ar.Findings) != tt.findings {
				t.Fatalf("got status %s format %q findings %d gaps %q; want %s %q %d",
					ar.Status, ar.Artifact.Format, len(ar.Findings), ar.Gaps, tt.status, tt.format, tt.findings)
			}
			if tt.findings > 0 && ar.Findings[0].Location.Member != tt.member {
				t.Errorf("member = %q, want %q", ar.Findings[0].Location.Member, tt.member)
			}
			if tt.gap != "" && !strings.Contains(strings.Join(ar.Gaps, "\n"), tt.gap) {
				t.Errorf("gaps %q lack %q", ar.Gaps, tt.gap)
			}
			if len(ar.Artifact.SHA256) != 64 {
				t.Errorf("digest missing: %q", ar.Artifact.SHA256)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bomb := gz(t, append([]byte("EVIL"), make([]byte, 64<<20)...))
	deep := []byte("EVIL")
	for i := 0; i < 4; i++ {
		deep = gz(t, deep)
	}
	os.WriteFile(filepath.Join(dir, "bomb.gz"), bomb, 0o644)
	os.WriteFile(filepath.Join(dir, "deep.gz"), deep, 0o644)
	lim := DefaultLimits()
	lim.MaxDepth = 2
	lim.RatioFloor = 1 << 20
	eng := newTestEngine(lim)

	ar := eng.ScanFile(context.Background(), filepath.Join(dir, "bomb.gz"))
	if ar.Status != finding.StatusInconclusive || !strings.Contains(strings.Join(ar.Gaps, " "), "decompression ratio") {
		t.Errorf("bomb: status %s gaps %q", ar.Status, ar.Gaps)
	}
	ar = eng.ScanFile(context.Background(), filepath.Join(dir, "deep.gz"))
	if ar.Status != finding.StatusInconclusive || !strings.Contains(strings.Join(ar.Gaps, " "), "nesting deeper") {
		t.Errorf("deep: status %s gaps %q", ar.Status, ar.Gaps)
	}

	// Spill to a temporary file past the memory buffer and still find it.
	lim = DefaultLimits()
	lim.MemoryBuffer = 1 << 10
	big := gz(t, append([]byte("EVIL"), make([]byte, 1<<20)...))
	os.WriteFile(filepath.Join(dir, "spill.gz"), big, 0o644)
	ar = newTestEngine(lim).ScanFile(context.Background(), filepath.Join(dir, "spill.gz"))
	if ar.Status != finding.StatusComplete || len(ar.Findings) != 1 {
		t.Errorf("spill: status %s findings %d gaps %q", ar.Status, len(ar.Findings), ar.Gaps)
	}
}

func TestScanTargets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub", ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.bin"), []byte("EVIL"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "b.bin"), []byte("GOOD"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", ".git", "c.bin"), []byte("EVIL"), 0o644)
	os.Symlink(dir, filepath.Join(dir, "sub", "loop"))
	var calls int
	eng := New([]Scanner{markerScanner{}}, Options{Workers: 3, Progress: func(done, total int, _ string) { calls++ }})
	rep, err := eng.Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Artifacts != 2 || rep.Summary.Findings != 1 || calls != 2 {
		t.Fatalf("summary %+v, progress calls %d", rep.Summary, calls)
	}
	if rep.Artifacts[0].Artifact.Path > rep.Artifacts[1].Artifact.Path {
		t.Error("artifacts not sorted")
	}
	if _, err := eng.Scan(context.Background(), []string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing target: no error")
	} else {
		var pe *PathError
		if !errors.As(err, &pe) {
			t.Errorf("missing target: %T %v", err, err)
		}
	}
	if _, err := eng.Scan(context.Background(), nil); !errors.Is(err, ErrNoTargets) {
		t.Errorf("no targets: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eng.Scan(ctx, []string{dir}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

type cutReader struct {
	data []byte
	err  error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.err
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

// A decoder's io.ErrUnexpectedEOF is a truncated stream, not a short member.
func TestReadHeadTruncation(t *testing.T) {
	for _, c := range []struct {
		name    string
		r       io.Reader
		n       int
		wantErr bool
	}{
		{"short clean", &cutReader{data: make([]byte, 10), err: io.EOF}, 10, false},
		{"empty", &cutReader{err: io.EOF}, 0, false},
		{"long", &cutReader{data: make([]byte, HeadSize+5), err: io.EOF}, HeadSize, false},
		{"truncated decoder", &cutReader{data: make([]byte, 10), err: io.ErrUnexpectedEOF}, 10, true},
		{"stalled", &cutReader{data: nil, err: nil}, 0, true},
	} {
		head, err := readHead(c.r)
		if len(head) != c.n || (err != nil) != c.wantErr {
			t.Errorf("%s: %d bytes, err %v", c.name, len(head), err)
		}
	}
}
