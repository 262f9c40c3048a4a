package safetensors

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

func TestFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.safetensors")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	eng := scan.New([]scan.Scanner{New()}, scan.Options{Workers: 1})
	for _, p := range files {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			ar := eng.ScanFile(context.Background(), p)
			switch {
			case strings.HasPrefix(name, "valid_"):
				if ar.Status != finding.StatusComplete || len(ar.Findings) != 0 || ar.Artifact.Format != "safetensors" {
					t.Errorf("status %s format %q findings %d gaps %v, want complete clean safetensors", ar.Status, ar.Artifact.Format, len(ar.Findings), ar.Gaps)
				}
			case strings.HasPrefix(name, "invalid_"):
				if ar.Status != finding.StatusInconclusive {
					t.Errorf("status %s, want inconclusive", ar.Status)
				}
			default:
				t.Fatalf("fixture %s must start with valid_ or invalid_", name)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	valid, err := os.ReadFile("testdata/valid_mlp.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		head []byte
		size int64
		want bool
	}{
		{"valid", valid, int64(len(valid)), true},
		{"empty", nil, 0, false},
		{"pickle", []byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}"), 64, false},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), 64, false},
		{"length past end", append([]byte{0xff, 0xff, 0, 0, 0, 0, 0, 0}, `{"a":1}`...), 15, false},
		{"not json", append([]byte{8, 0, 0, 0, 0, 0, 0, 0}, "abcdefgh"...), 16, false},
		{"leading spaces", append([]byte{10, 0, 0, 0, 0, 0, 0, 0}, `  {"a":{}}`...), 18, true},
		{"compressed size unknown", valid[:64], -1, true},
	}
	s := New()
	for _, c := range cases {
		got := s.Match(scan.FileInfo{Name: "x", Head: c.head, Size: c.size, R: bytes.NewReader(c.head)})
		if got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/valid_mlp.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	h, err := Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Tensors) != 7 || h.Metadata["format"] != "pt" {
		t.Errorf("got %d tensors, metadata %v", len(h.Tensors), h.Metadata)
	}
	for i := 1; i < len(h.Tensors); i++ {
		if h.Tensors[i].Begin != h.Tensors[i-1].End {
			t.Errorf("tensors not contiguous after sort: %+v", h.Tensors)
		}
	}
}

func FuzzSafetensors(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.safetensors")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	s := New()
	f.Fuzz(func(t *testing.T, b []byte) {
		fi := scan.FileInfo{Name: "f.safetensors", Size: int64(len(b)), Head: b[:min(len(b), scan.HeadSize)], R: bytes.NewReader(b)}
		s.Match(fi)
		h, err := Parse(bytes.NewReader(b), int64(len(b)))
		if err == nil {
			var end uint64
			for _, tn := range h.Tensors {
				end = tn.End
			}
			if end != uint64(len(b))-8-h.HeaderLen {
				t.Fatalf("valid file with data section %d, tensors end at %d", uint64(len(b))-8-h.HeaderLen, end)
			}
		}
	})
}
