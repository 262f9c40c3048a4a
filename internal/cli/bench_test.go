package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Benchmarks of whole commands, run in-process. The same inputs can be kept
// for timing the built binary: MLSEC_BENCH_DIR=/tmp/b go test -run
// TestWriteBenchInputs ./internal/cli (see README "Performance").

// writeTorchZip writes a PyTorch-layout zip of about size bytes: a real
// data.pkl and stored tensor members whose bytes are zero. The tensor bytes
// are never written (the file is sparse), so making 2 GB is cheap; the CRC of
// n zero bytes is computed arithmetically from a zero block.
func writeTorchZip(tb testing.TB, path string, size int64) {
	tb.Helper()
	pkl, err := os.ReadFile("testdata/bench/data.pkl")
	if err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	type entry struct {
		name      string
		off, size int64
		crc       uint32
	}
	var entries []entry
	var off int64
	add := func(name string, data []byte, n int64, crc uint32) {
		hdr := make([]byte, 30)
		binary.LittleEndian.PutUint32(hdr[0:], 0x04034b50)
		binary.LittleEndian.PutUint16(hdr[4:], 45)
		binary.LittleEndian.PutUint32(hdr[14:], crc)
		sz := uint32(0xffffffff)
		if n < 0xffffffff {
			sz = uint32(n)
		}
		binary.LittleEndian.PutUint32(hdr[18:], sz)
		binary.LittleEndian.PutUint32(hdr[22:], sz)
		binary.LittleEndian.PutUint16(hdr[26:], uint16(len(name)))
		extra := zip64Extra(n, n, -1)
		binary.LittleEndian.PutUint16(hdr[28:], uint16(len(extra)))
		if _, err := f.WriteAt(append(append(hdr, name...), extra...), off); err != nil {
			tb.Fatal(err)
		}
		entries = append(entries, entry{name, off, n, crc})
		off += int64(len(hdr) + len(name) + len(extra))
		if data != nil {
			f.WriteAt(data, off)
		}
		off += n
	}
	add("archive/data.pkl", pkl, int64(len(pkl)), crc32.ChecksumIEEE(pkl))
	add("archive/version", []byte("3\n"), 2, crc32.ChecksumIEEE([]byte("3\n")))
	const chunk = 64 << 20
	zeroCRC := zeroCRC(chunk)
	for i := 0; off < size; i++ {
		add("archive/data/"+strconv.Itoa(i), nil, chunk, zeroCRC)
	}
	// Central directory with zip64 records.
	var cd bytes.Buffer
	for _, e := range entries {
		h := make([]byte, 46)
		binary.LittleEndian.PutUint32(h[0:], 0x02014b50)
		binary.LittleEndian.PutUint16(h[4:], 45)
		binary.LittleEndian.PutUint16(h[6:], 45)
		binary.LittleEndian.PutUint32(h[16:], e.crc)
		binary.LittleEndian.PutUint32(h[20:], 0xffffffff)
		binary.LittleEndian.PutUint32(h[24:], 0xffffffff)
		binary.LittleEndian.PutUint16(h[28:], uint16(len(e.name)))
		extra := zip64Extra(e.size, e.size, e.off)
		binary.LittleEndian.PutUint16(h[30:], uint16(len(extra)))
		binary.LittleEndian.PutUint32(h[42:], 0xffffffff)
		cd.Write(h)
		cd.WriteString(e.name)
		cd.Write(extra)
	}
	cdOff := off
	cdLen := int64(cd.Len())
	z64 := make([]byte, 56)
	binary.LittleEndian.PutUint32(z64[0:], 0x06064b50)
	binary.LittleEndian.PutUint64(z64[4:], 44)
	binary.LittleEndian.PutUint16(z64[12:], 45)
	binary.LittleEndian.PutUint16(z64[14:], 45)
	binary.LittleEndian.PutUint64(z64[24:], uint64(len(entries)))
	binary.LittleEndian.PutUint64(z64[32:], uint64(len(entries)))
	binary.LittleEndian.PutUint64(z64[40:], uint64(cdLen))
	binary.LittleEndian.PutUint64(z64[48:], uint64(cdOff))
	loc := make([]byte, 20)
	binary.LittleEndian.PutUint32(loc[0:], 0x07064b50)
	binary.LittleEndian.PutUint64(loc[8:], uint64(cdOff+cdLen))
	binary.LittleEndian.PutUint32(loc[16:], 1)
	eocd := make([]byte, 22)
	binary.LittleEndian.PutUint32(eocd[0:], 0x06054b50)
	binary.LittleEndian.PutUint16(eocd[8:], 0xffff)
	binary.LittleEndian.PutUint16(eocd[10:], 0xffff)
	binary.LittleEndian.PutUint32(eocd[12:], 0xffffffff)
	binary.LittleEndian.PutUint32(eocd[16:], 0xffffffff)
	tail := append(append(append(cd.Bytes(), z64...), loc...), eocd...)
	if _, err := f.WriteAt(tail, off); err != nil {
		tb.Fatal(err)
	}
}

func zip64Extra(usize, csize, off int64) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint16(b, 0x0001)
	n := 16
	if off >= 0 {
		n = 24
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(n))
	b = binary.LittleEndian.AppendUint64(b, uint64(usize))
	b = binary.LittleEndian.AppendUint64(b, uint64(csize))
	if off >= 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(off))
	}
	return b
}

func zeroCRC(n int) uint32 {
	h := crc32.NewIEEE()
	io.Copy(h, io.LimitReader(zeroReader{}, int64(n)))
	return h.Sum32()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// writeMixedDir copies the benign samples (and the bench fixtures) into dir
// until it holds n files.
func writeMixedDir(tb testing.TB, dir string, n int) {
	tb.Helper()
	var srcs []string
	for _, glob := range []string{"testdata/corpus/benign/*", "testdata/corpus/pytorch/pytorch_model.bin",
		"testdata/corpus/pytorch/benign_*", "testdata/corpus/joblib/benign_*", "testdata/corpus/keras/benign_*",
		"testdata/corpus/gguf/benign_*", "testdata/corpus/safetensors/*"} {
		m, _ := filepath.Glob(glob)
		srcs = append(srcs, m...)
	}
	if len(srcs) == 0 {
		tb.Fatal("no benchmark sources")
	}
	for i := 0; i < n; i++ {
		src := srcs[i%len(srcs)]
		b, err := os.ReadFile(src)
		if err != nil {
			tb.Fatal(err)
		}
		dst := filepath.Join(dir, fmt.Sprintf("m%03d_%s", i, filepath.Base(src)))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func benchScan(b *testing.B, args ...string) {
	b.Helper()
	for b.Loop() {
		code := RunContext(context.Background(), append([]string{"mlsec", "scan", "-q", "--format", "json"}, args...), io.Discard, io.Discard)
		if code != ExitClean {
			b.Fatalf("exit %d", code)
		}
	}
}

func BenchmarkScanLargeTorchZip(b *testing.B) {
	size := int64(2 << 30)
	if s := os.Getenv("MLSEC_BENCH_ZIP_MB"); s != "" {
		mb, _ := strconv.Atoi(s)
		size = int64(mb) << 20
	}
	path := filepath.Join(b.TempDir(), "big.pt")
	writeTorchZip(b, path, size)
	b.SetBytes(size)
	benchScan(b, path)
}

func BenchmarkScanMixedDir150(b *testing.B) {
	dir := b.TempDir()
	writeMixedDir(b, dir, 150)
	benchScan(b, dir)
}

// TestWriteBenchInputs writes the benchmark inputs to $MLSEC_BENCH_DIR for
// timing the built binary with hyperfine or /usr/bin/time; skipped otherwise.
func TestWriteBenchInputs(t *testing.T) {
	dir := os.Getenv("MLSEC_BENCH_DIR")
	if dir == "" {
		t.Skip("set MLSEC_BENCH_DIR to write the benchmark inputs")
	}
	os.MkdirAll(filepath.Join(dir, "mixed"), 0o755)
	writeTorchZip(t, filepath.Join(dir, "big.pt"), 2<<30)
	writeMixedDir(t, filepath.Join(dir, "mixed"), 150)
}
