package archive

import (
	"archive/tar"
	"bytes"
	"compress/zlib"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/mlsec/mlsec/internal/scan"
)

func compressWith(t testing.TB, b []byte, wrap func(io.Writer) (io.WriteCloser, error)) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := wrap(&out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var compressors = map[string]func(io.Writer) (io.WriteCloser, error){
	"gzip": func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil },
	"zlib": func(w io.Writer) (io.WriteCloser, error) { return zlib.NewWriter(w), nil },
	"zstd": func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) },
	"lz4":  func(w io.Writer) (io.WriteCloser, error) { return lz4.NewWriter(w), nil },
	"xz":   func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) },
	"lzma": func(w io.Writer) (io.WriteCloser, error) { return lzma.NewWriter(w) },
}

func TestCompressors(t *testing.T) {
	t.Parallel()
	exts := map[string]string{"gzip": ".gz", "zlib": ".z", "zstd": ".zst", "lz4": ".lz4", "xz": ".xz", "lzma": ".lzma"}
	for format, wrap := range compressors {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			// Large enough that the engine buffers the member past the head.
			payload := append(append([]byte(nil), evil...), bytes.Repeat([]byte("x"), 3*scan.HeadSize)...)
			res := scanBytes(t, "model.pkl"+exts[format], compressWith(t, payload, wrap), zeroLimits)
			if res.Format != format || !res.Coverage.Complete || !hasFinding(res.Findings, markerRule.ID, "model.pkl") {
				t.Errorf("format %q complete %v gaps %v findings %v", res.Format, res.Coverage.Complete, res.Coverage.Gaps, findingKeys(res.Findings))
			}
			// A corrupt stream is a gap, never clean.
			c := compressWith(t, payload, wrap)
			bad := append(append([]byte(nil), c[:len(c)/2]...), bytes.Repeat([]byte{0x55}, 64)...)
			res = scanBytes(t, "model.pkl"+exts[format], bad, zeroLimits)
			if res.Format == format && res.Coverage.Complete {
				t.Errorf("corrupt %s stream reported complete", format)
			}
		})
	}
}

func TestNestedMemberPaths(t *testing.T) {
	t.Parallel()
	inner := buildZip(nil, torchLayout(evil), false)
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "ckpt/model.pt", Mode: 0o644, Size: int64(len(inner)), Typeflag: tar.TypeReg})
	tw.Write(inner)
	tw.Close()
	gz := compressWith(t, tb.Bytes(), compressors["gzip"])
	zst := compressWith(t, gz, compressors["zstd"])
	res := scanBytes(t, "bundle.tar.gz.zst", zst, zeroLimits)
	want := "bundle.tar.gz!bundle.tar!ckpt/model.pt!archive/data.pkl"
	if !hasFinding(res.Findings, markerRule.ID, want) {
		t.Errorf("want finding at %s, got %v (gaps %v)", want, findingKeys(res.Findings), res.Coverage.Gaps)
	}
	// The depth limit makes deeper nesting a gap.
	lim := scan.DefaultLimits()
	lim.MaxDepth = 2
	res = scanBytes(t, "bundle.tar.gz.zst", zst, lim)
	if res.Coverage.Complete || !gapsContain(res.Coverage.Gaps, "nesting deeper") {
		t.Errorf("depth limit: complete %v gaps %v", res.Coverage.Complete, res.Coverage.Gaps)
	}
}

func TestTestdataContainers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		format string
		member string // where the marker must fire ("" = nowhere)
	}{
		{"wrapped/malicious.pt.gz", "gzip", "malicious.pt!archive/data.pkl"},
		{"wrapped/malicious.pt.bz2", "bzip2", "malicious.pt!archive/data.pkl"},
		{"wrapped/malicious.pt.xz", "xz", "malicious.pt!archive/data.pkl"},
		{"wrapped/malicious.pt.zst", "zstd", "malicious.pt!archive/data.pkl"},
		{"wrapped/malicious.pt.lz4", "lz4", "malicious.pt!archive/data.pkl"},
		{"wrapped/malicious.pt.7z", "7z", "malicious.pt!archive/data.pkl"},
		{"wrapped/state_dict.pt.7z", "7z", ""},
		{"wrapped/bundle.tar", "tar", "model/extra.pkl"},
		{"wrapped/bundle.tar.gz", "gzip", "bundle.tar!model/extra.pkl"},
		{"corpus/nullifai_7z_model.pt", "7z", "archive/data.pkl"},
		{"corpus/model.pkl.gz", "gzip", "model.pkl"},
		{"corpus/mal_lzma.joblib", "lzma", "mal_lzma.joblib"},
		{"corpus/benign_pipeline_zlib.joblib", "zlib", ""},
		{"wrapped/benign.joblib.z", "zlib", ""},
		{"wrapped/benign.joblib.lzma", "lzma", ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			ar := scanPath(t, "testdata/"+tc.file)
			if ar.Artifact.Format != tc.format || ar.Status != "complete" {
				t.Errorf("format %q status %s gaps %v", ar.Artifact.Format, ar.Status, ar.Gaps)
			}
			// The stand-in scanner only sees "system" in binary pickles:
			// the torch fixtures' data.pkl files have it only when malicious.
			if tc.member != "" && !hasFinding(ar.Findings, markerRule.ID, tc.member) {
				t.Errorf("no marker at %s: %v", tc.member, findingKeys(ar.Findings))
			}
		})
	}
}

func TestTar(t *testing.T) {
	t.Parallel()
	build := func(hdrs []*tar.Header, bodies [][]byte, format tar.Format) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for i, h := range hdrs {
			h.Format = format
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			tw.Write(bodies[i])
		}
		tw.Close()
		return b.Bytes()
	}
	for _, format := range []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU} {
		data := build([]*tar.Header{
			{Name: "a/model.pkl", Mode: 0o644, Size: int64(len(evil)), Typeflag: tar.TypeReg},
			{Name: "a/link", Linkname: "../../etc/passwd", Typeflag: tar.TypeSymlink},
			{Name: "../escape.pkl", Mode: 0o644, Size: int64(len(benign)), Typeflag: tar.TypeReg},
		}, [][]byte{evil, nil, benign}, format)
		res := scanBytes(t, "x.tar", data, zeroLimits)
		if res.Format != "tar" || !res.Coverage.Complete {
			t.Errorf("%v: format %q gaps %v", format, res.Format, res.Coverage.Gaps)
		}
		for _, w := range []string{"MLS-TEST-950@a/model.pkl", "MLS-ARC-004@a/link -> ../../etc/passwd", "MLS-ARC-004@../escape.pkl"} {
			found := false
			for _, k := range findingKeys(res.Findings) {
				found = found || k == w
			}
			if !found {
				t.Errorf("%v: missing %s in %v", format, w, findingKeys(res.Findings))
			}
		}
	}
	// An old v7 header (no magic) is still a tar.
	v7 := build([]*tar.Header{{Name: "model.pkl", Mode: 0o644, Size: int64(len(evil)), Typeflag: tar.TypeReg}}, [][]byte{evil}, tar.FormatUSTAR)
	copy(v7[257:265], make([]byte, 8)) // drop magic and version
	var sum int64
	for i, c := range v7[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	copy(v7[148:156], []byte(string(append([]byte(formatOctal(sum)), 0, ' '))))
	if !(Tar{}).Match(scan.FileInfo{Head: v7}) {
		t.Fatal("v7 tar not matched")
	}
	res := scanBytes(t, "old.tar", v7, zeroLimits)
	if !hasFinding(res.Findings, markerRule.ID, "model.pkl") {
		t.Errorf("v7 tar: %v gaps %v", findingKeys(res.Findings), res.Coverage.Gaps)
	}
	// Truncated: a gap.
	res = scanBytes(t, "cut.tar", v7[:600], zeroLimits)
	if res.Coverage.Complete {
		t.Error("truncated tar reported complete")
	}
	if got := classifyTar([]string{"sys_info_key", "pickle", "storages", "tensors"}); got != "pytorch-tar" {
		t.Errorf("classifyTar = %q", got)
	}
}

func formatOctal(v int64) string {
	s := []byte("000000")
	for i := 5; i >= 0; i-- {
		s[i] = byte('0' + v&7)
		v >>= 3
	}
	return string(s)
}

func TestMatchNegatives(t *testing.T) {
	t.Parallel()
	heads := [][]byte{
		[]byte("(S'hello'\np0\n."),             // protocol 0 pickle whose first bytes pass zlib's check
		[]byte("]q\x00(K\x01K\x02e."),          // protocol 1 pickle starting with 0x5d like lzma
		[]byte("\x80\x04\x95\x10\x00\x00\x00"), // protocol 4 pickle
		[]byte("{\"config\": 1}"),
		bytes.Repeat([]byte{0}, 1024),
		[]byte("BZh9 not bzip2 at all"),
	}
	for _, s := range Scanners() {
		for _, h := range heads {
			fi := scan.FileInfo{Name: "x.bin", Size: int64(len(h)), Head: h, R: bytes.NewReader(h)}
			if s.Match(fi) {
				t.Errorf("%s matched %q", s.Name(), h)
			}
		}
	}
}

// TestBombs: decompression bombs stop at the engine's limits quickly and
// with bounded memory, as a gap.
func TestBombs(t *testing.T) {
	const size = 64 << 20
	zeros := func(w io.Writer) {
		w.Write(evil)
		chunk := make([]byte, 1<<20)
		for n := 0; n < size; n += len(chunk) {
			w.Write(chunk)
		}
	}
	var gz bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zeros(gw)
	gw.Close()
	var zb bytes.Buffer
	fw := deflateStream(&zb)
	zeros(fw)
	fw.Close()
	zipBomb := buildZipRaw("bomb.pkl", zb.Bytes(), size+int64(len(evil)))
	for name, data := range map[string][]byte{"bomb.pkl.gz": gz.Bytes(), "bomb.zip": zipBomb} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		res := scanBytes(t, name, data, zeroLimits)
		el := time.Since(start)
		runtime.ReadMemStats(&after)
		if res.Coverage.Complete || !gapsContain(res.Coverage.Gaps, "limit exceeded") {
			t.Errorf("%s: complete %v gaps %v", name, res.Coverage.Complete, res.Coverage.Gaps)
		}
		if el > 5*time.Second {
			t.Errorf("%s: took %v", name, el)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
			t.Errorf("%s: allocated %d MiB", name, grew>>20)
		}
		t.Logf("%s (%d KiB): %v, %v", name, len(data)>>10, el, res.Coverage.Gaps)
	}
}

func TestInnerNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"model.pt.gz": "model.pt", "w.TGZ": "w.tar", "a.tar.zst": "a.tar", "m.joblib": "m.joblib", ".gz": ".gz",
	} {
		if got := innerName(in, []string{".gz", ".tgz", ".zst"}); got != want {
			t.Errorf("innerName(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Name = "inner.pkl"
	w.Write(evil)
	w.Close()
	if got := gzipName(b.Bytes()); got != "inner.pkl" {
		t.Errorf("gzipName = %q", got)
	}
	res := scanBytes(t, "renamed.bin", b.Bytes(), zeroLimits)
	if !hasFinding(res.Findings, markerRule.ID, "inner.pkl") {
		t.Errorf("gzip FNAME not used: %v", findingKeys(res.Findings))
	}
}
