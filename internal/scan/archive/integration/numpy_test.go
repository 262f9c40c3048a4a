package integration

import (
	"context"
	"slices"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
)

func TestRegistryNumpy(t *testing.T) {
	e := scan.New(registry.Scanners(registry.Config{}), scan.Options{Workers: 1})
	ok, inc := finding.StatusComplete, finding.StatusInconclusive
	tests := []struct {
		file   string
		format string
		status finding.Status
		rules  []string // exactly these rule@member findings (sorted)
	}{
		{"float32.npy", "numpy-npy", ok, nil},
		{"int64_fortran.npy", "numpy-npy", ok, nil},
		{"structured.npy", "numpy-npy", ok, nil},
		{"unicode.npy", "numpy-npy", ok, nil},
		{"scalar.npy", "numpy-npy", ok, nil},
		{"empty.npy", "numpy-npy", ok, nil},
		{"datetime.npy", "numpy-npy", ok, nil},
		{"v3_header.npy", "numpy-npy", ok, nil},
		{"arrays.npz", "numpy-npz", ok, nil},
		{"arrays_compressed.npz", "numpy-npz", ok, nil},
		{"object_plain.npy", "numpy-npy", ok, []string{"MLS-NPY-001@"}},
		{"object_in.npz", "numpy-npz", ok, []string{"MLS-NPY-001@o.npy"}},
		{"malicious_object.npy", "numpy-npy", ok, []string{"MLS-NPY-001@", "MLS-PKL-001@"}},
		{"mal_object_array.npy", "numpy-npy", ok, []string{"MLS-NPY-001@", "MLS-PKL-001@"}},
		{"malicious_object.npz", "numpy-npz", ok, []string{"MLS-NPY-001@meta.npy", "MLS-PKL-001@meta.npy"}},
		{"truncated.npy", "numpy-npy", inc, nil},
		{"bad_header.npy", "numpy-npy", inc, nil},
	}
	for _, tc := range tests {
		ar := e.ScanFile(context.Background(), "../../numpy/testdata/"+tc.file)
		var keys []string
		for _, f := range ar.Findings {
			keys = append(keys, f.RuleID+"@"+f.Location.Member)
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		if ar.Artifact.Format != tc.format || ar.Status != tc.status || !slices.Equal(keys, tc.rules) {
			t.Errorf("%s: format %q status %s findings %v gaps %v; want %q %s %v", tc.file, ar.Artifact.Format, ar.Status, keys, ar.Gaps, tc.format, tc.status, tc.rules)
		}
	}
}
