package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/scan"
)

func addSeeds(f *testing.F, globs ...string) {
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
}

// fuzzLimits keep one fuzz input cheap while still exercising the limits.
func fuzzLimits() scan.Limits {
	lim := scan.DefaultLimits()
	lim.MaxMembers = 64
	lim.MaxMemberSize = 8 << 20
	lim.MaxExpanded = 16 << 20
	lim.RatioFloor = 1 << 20
	lim.Timeout = 5 * time.Second
	return lim
}

// FuzzZipReader drives the tolerant zip reader and the zip scanner over
// arbitrary bytes: no panic, no hang, and the views it returns lie inside
// the input.
func FuzzZipReader(f *testing.F) {
	addSeeds(f, "testdata/tampered/*", "testdata/torch/*.pt", "testdata/corpus/*.pt", "testdata/corpus/*.bin")
	f.Add(buildZip(nil, torchLayout(evil), false))
	f.Add(buildZip([]byte("junk"), []zipSpec{{name: "a", data: evil, descriptor: true, deflate: true}}, true))
	f.Add(buildZip(nil, []zipSpec{{name: "a", data: evil, zip64: true}}, false))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dir, err := readZipDir(ctx, bytes.NewReader(data), int64(len(data)), 64)
		if err == nil {
			for _, v := range dir.views {
				if v.dataOff < 0 || v.dataOff > int64(len(data)) {
					t.Fatalf("view %q data offset %d outside %d bytes", v.name, v.dataOff, len(data))
				}
			}
		}
		if (Zip{}).Match(scan.FileInfo{Name: "x.pt", Size: int64(len(data)), Head: data[:min(len(data), scan.HeadSize)], R: bytes.NewReader(data)}) {
			scanBytes(t, "x.pt", data, fuzzLimits())
		}
	})
}

// FuzzTar checks tar header detection and the tar scanner.
func FuzzTar(f *testing.F) {
	addSeeds(f, "testdata/wrapped/bundle.tar")
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, data []byte) {
		fi := scan.FileInfo{Name: "x.tar", Size: int64(len(data)), Head: data[:min(len(data), scan.HeadSize)], R: bytes.NewReader(data)}
		if (Tar{}).Match(fi) {
			scanBytes(t, "x.tar", data, fuzzLimits())
		}
	})
}

// FuzzContainers feeds arbitrary bytes to every container scanner through
// the engine (compressors, 7z, zip, tar).
func FuzzContainers(f *testing.F) {
	addSeeds(f, "testdata/wrapped/*", "testdata/corpus/*.gz", "testdata/corpus/*.joblib", "testdata/corpus/nullifai_7z_model.pt")
	f.Fuzz(func(t *testing.T, data []byte) {
		scanBytes(t, "x.bin", data, fuzzLimits())
	})
}

// FuzzSevenZip checks the 7z header validator and the 7z scanner: a
// hostile header must never make the library allocate without bound.
func FuzzSevenZip(f *testing.F) {
	addSeeds(f, "testdata/wrapped/*.7z", "testdata/corpus/nullifai_7z_model.pt", "testdata/fuzz/FuzzContainers/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		if (SevenZip{}).Match(scan.FileInfo{Head: data[:min(len(data), scan.HeadSize)]}) {
			scanBytes(t, "x.7z", data, fuzzLimits())
		}
	})
}
