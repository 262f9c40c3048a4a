package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
)

// writeSparseTorchZip writes a PyTorch-layout zip of about totalMB MiB:
// archive/data.pkl (a real state-dict pickle), archive/data/0..N stored
// tensors of zeros (file holes, so the file is cheap to create), and
// archive/version. It mimics torch.save: stored entries, data aligned to
// 64 bytes through an "FB" extra field.
func writeSparseTorchZip(tb testing.TB, path string, totalMB int, pkl []byte) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	const tensor = 64 << 20
	n := max(totalMB*(1<<20)/tensor, 1)
	zeroCRC := crc32.Update(0, crc32.IEEETable, make([]byte, tensor))
	type ent struct {
		name      string
		off, size uint64
		crc       uint32
	}
	var ents []ent
	var pos int64
	le := binary.LittleEndian
	writeEntry := func(name string, data []byte, size int64, crc uint32) {
		// Pad the data start to 64 bytes with an extra field, as torch does.
		hdr := 30 + len(name) + 4
		pad := (64 - (int(pos)+hdr)%64) % 64
		extra := make([]byte, 4+pad)
		copy(extra, "FB")
		le.PutUint16(extra[2:], uint16(pad))
		var h bytes.Buffer
		for _, v := range []any{uint32(0x04034b50), uint16(45), uint16(0), uint16(0), uint32(0), crc, uint32(0xffffffff), uint32(0xffffffff),
			uint16(len(name)), uint16(len(extra) + 20)} {
			binary.Write(&h, le, v)
		}
		h.WriteString(name)
		h.Write(extra)
		// zip64 extra with both sizes.
		for _, v := range []any{uint16(1), uint16(16), uint64(size), uint64(size)} {
			binary.Write(&h, le, v)
		}
		ents = append(ents, ent{name, uint64(pos), uint64(size), crc})
		if _, err := f.WriteAt(h.Bytes(), pos); err != nil {
			tb.Fatal(err)
		}
		pos += int64(h.Len())
		if data != nil {
			f.WriteAt(data, pos)
		}
		pos += size
	}
	writeEntry("archive/data.pkl", pkl, int64(len(pkl)), crc32.ChecksumIEEE(pkl))
	writeEntry("archive/byteorder", []byte("little"), 6, crc32.ChecksumIEEE([]byte("little")))
	for i := 0; i < n; i++ {
		writeEntry("archive/data/"+strconv.Itoa(i), nil, tensor, zeroCRC)
	}
	writeEntry("archive/version", []byte("3\n"), 2, crc32.ChecksumIEEE([]byte("3\n")))
	var cd bytes.Buffer
	for _, e := range ents {
		for _, v := range []any{uint32(0x02014b50), uint16(45), uint16(45), uint16(0), uint16(0), uint32(0), e.crc,
			uint32(0xffffffff), uint32(0xffffffff), uint16(len(e.name)), uint16(28), uint16(0), uint16(0), uint16(0),
			uint32(0), uint32(0xffffffff)} {
			binary.Write(&cd, le, v)
		}
		cd.WriteString(e.name)
		for _, v := range []any{uint16(1), uint16(24), e.size, e.size, e.off} {
			binary.Write(&cd, le, v)
		}
	}
	cdOff := pos
	var tail bytes.Buffer
	tail.Write(cd.Bytes())
	eocd64 := pos + int64(cd.Len())
	for _, v := range []any{uint32(0x06064b50), uint64(44), uint16(45), uint16(45), uint32(0), uint32(0),
		uint64(len(ents)), uint64(len(ents)), uint64(cd.Len()), uint64(cdOff)} {
		binary.Write(&tail, le, v)
	}
	for _, v := range []any{uint32(0x07064b50), uint32(0), uint64(eocd64), uint32(1)} {
		binary.Write(&tail, le, v)
	}
	for _, v := range []any{uint32(0x06054b50), uint16(0), uint16(0), uint16(0xffff), uint16(0xffff),
		uint32(0xffffffff), uint32(0xffffffff), uint16(0)} {
		binary.Write(&tail, le, v)
	}
	if _, err := f.WriteAt(tail.Bytes(), pos); err != nil {
		tb.Fatal(err)
	}
}

// statePickle extracts archive/data.pkl from a real torch.save fixture.
func statePickle(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("../testdata/torch/optimizer_state.pt")
	if err != nil {
		tb.Fatal(err)
	}
	i := bytes.Index(b, []byte("data.pkl"))
	j := bytes.Index(b, []byte{0x80, 0x02})
	k := bytes.Index(b, []byte("PK\x07\x08"))
	if i < 0 || j < 0 || k < j {
		tb.Fatal("unexpected fixture layout")
	}
	return b[j:k]
}

// BenchmarkLargeTorchZip scans a ~2 GB PyTorch zip (MLSEC_BENCH_ZIP_MB
// overrides the size) through the full registry: only the directory and
// member heads are read, never the tensor data.
func BenchmarkLargeTorchZip(b *testing.B) {
	mb := 2048
	if s := os.Getenv("MLSEC_BENCH_ZIP_MB"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			mb = v
		}
	}
	path := filepath.Join(b.TempDir(), "model.pt")
	writeSparseTorchZip(b, path, mb, statePickle(b))
	st, _ := os.Stat(path)
	e := scan.New(registry.Scanners(registry.Config{}), scan.Options{Workers: 1})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ar := e.ScanFile(context.Background(), path)
		if ar.Status != finding.StatusComplete || ar.Artifact.Format != "pytorch-zip" || len(ar.Findings) != 0 {
			b.Fatalf("status %s format %s gaps %v findings %d", ar.Status, ar.Artifact.Format, ar.Gaps, len(ar.Findings))
		}
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB/file")
}

func TestLargeTorchZipLayout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "model.pt")
	writeSparseTorchZip(t, path, 192, statePickle(t))
	e := scan.New(registry.Scanners(registry.Config{}), scan.Options{Workers: 1})
	ar := e.ScanFile(context.Background(), path)
	if ar.Status != finding.StatusComplete || ar.Artifact.Format != "pytorch-zip" || len(ar.Findings) != 0 || ar.Members < 1 {
		t.Fatalf("status %s format %s gaps %v findings %v members %d", ar.Status, ar.Artifact.Format, ar.Gaps, ar.Findings, ar.Members)
	}
}

// TestWriteLargeTorchZip writes the benchmark's checkpoint to the path in
// MLSEC_WRITE_BENCH_ZIP (for timing the whole command); skipped otherwise.
func TestWriteLargeTorchZip(t *testing.T) {
	path := os.Getenv("MLSEC_WRITE_BENCH_ZIP")
	if path == "" {
		t.Skip("set MLSEC_WRITE_BENCH_ZIP=/path/model.pt to write the benchmark checkpoint")
	}
	mb := 2048
	if v, err := strconv.Atoi(os.Getenv("MLSEC_BENCH_ZIP_MB")); err == nil && v > 0 {
		mb = v
	}
	writeSparseTorchZip(t, path, mb, statePickle(t))
}
