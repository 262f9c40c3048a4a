package integration

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
)

// expect is what the full registry (pickle engine included) must report
// for one fixture.
type expect struct {
	file   string
	format string
	status finding.Status
	// worst is the most severe finding wanted; nil means no finding at all.
	worst *finding.Severity
	// rules are rule@member pairs that must be present.
	rules []string
}

func sev(s finding.Severity) *finding.Severity { return &s }

func runRegistry(t *testing.T, tests []expect) {
	t.Helper()
	e := scan.New(registry.Scanners(registry.Config{}), scan.Options{Workers: 1})
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			ar := e.ScanFile(context.Background(), tc.file)
			var keys []string
			var worst *finding.Severity
			for _, f := range ar.Findings {
				keys = append(keys, f.RuleID+"@"+f.Location.Member)
				if worst == nil || f.Severity > *worst {
					s := f.Severity
					worst = &s
				}
			}
			if ar.Artifact.Format != tc.format || ar.Status != tc.status {
				t.Errorf("format %q status %s, want %q %s (gaps %v)", ar.Artifact.Format, ar.Status, tc.format, tc.status, ar.Gaps)
			}
			switch {
			case tc.worst == nil && worst != nil:
				t.Errorf("unexpected findings %v", keys)
			case tc.worst != nil && (worst == nil || *worst != *tc.worst):
				t.Errorf("worst finding %v, want %v (%v)", worst, *tc.worst, keys)
			}
			for _, r := range tc.rules {
				if !slices.Contains(keys, r) {
					t.Errorf("missing %s in %v", r, keys)
				}
			}
		})
	}
}

func TestRegistryFixtures(t *testing.T) {
	crit := sev(finding.Critical)
	ok, inc := finding.StatusComplete, finding.StatusInconclusive
	runRegistry(t, []expect{
		// Real torch.save checkpoints: clean.
		{"../testdata/torch/linear_state_dict.pt", "pytorch-zip", ok, nil, nil},
		{"../testdata/torch/conv_state_dict.pt", "pytorch-zip", ok, nil, nil},
		{"../testdata/torch/lstm_state_dict.pt", "pytorch-zip", ok, nil, nil},
		{"../testdata/torch/sequential_state_dict.pt", "pytorch-zip", ok, nil, nil},
		{"../testdata/torch/sequential_full_module.pt", "pytorch-zip", ok, nil, nil},
		{"../testdata/torch/optimizer_state.pt", "pytorch-zip", ok, nil, nil},
		{"../testdata/tampered/handmade_benign.pt", "pytorch-zip", ok, nil, nil},
		{"../testdata/corpus/pytorch_model.bin", "pytorch-zip", ok, nil, nil},
		// Wrapped benign checkpoints and joblib streams: clean.
		{"../testdata/wrapped/state_dict.pt.gz", "gzip", ok, nil, nil},
		{"../testdata/wrapped/state_dict.pt.bz2", "bzip2", ok, nil, nil},
		{"../testdata/wrapped/state_dict.pt.xz", "xz", ok, nil, nil},
		{"../testdata/wrapped/state_dict.pt.zst", "zstd", ok, nil, nil},
		{"../testdata/wrapped/state_dict.pt.lz4", "lz4", ok, nil, nil},
		{"../testdata/wrapped/state_dict.pt.7z", "7z", ok, nil, nil},
		{"../testdata/wrapped/legacy.pt.gz", "gzip", ok, nil, nil},
		{"../testdata/wrapped/legacy.pt.7z", "7z", ok, nil, nil},
		{"../testdata/wrapped/benign.joblib.z", "zlib", ok, nil, nil},
		{"../testdata/wrapped/benign.joblib.lzma", "lzma", ok, nil, nil},
		{"../testdata/wrapped/benign.joblib.xz", "xz", ok, nil, nil},
		{"../testdata/wrapped/benign.joblib.bz2", "bzip2", ok, nil, nil},
		{"../testdata/wrapped/benign.joblib.gz", "gzip", ok, nil, nil},
		{"../testdata/corpus/benign_pipeline_zlib.joblib", "zlib", ok, nil, nil},
		{"../testdata/corpus/benign_dense.keras", "keras-v3", ok, nil, nil},
		// Malicious: the pickle engine's finding surfaces at the member.
		{"../testdata/corpus/mal_injected_state_dict.pt", "pytorch-zip", ok, crit, []string{"MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/corpus/mal_renamed_prefix.pt", "pytorch-zip", ok, crit, []string{"MLS-PKL-001@weights_v2/data.pkl"}},
		{"../testdata/corpus/mal_flag_bits_0x01.pt", "pytorch-zip", ok, crit, []string{"MLS-PKL-001@archive/data.pkl", "MLS-ARC-003@archive/data.pkl"}},
		{"../testdata/corpus/nullifai_7z_model.pt", "7z", inc, crit, []string{"MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/corpus/model.pkl.gz", "gzip", ok, crit, []string{"MLS-PKL-001@model.pkl"}},
		{"../testdata/corpus/mal_lzma.joblib", "lzma", ok, crit, []string{"MLS-PKL-001@mal_lzma.joblib"}},
		{"../testdata/tampered/flag_encrypted.pt", "pytorch-zip", ok, crit, []string{"MLS-ARC-003@archive/data.pkl", "MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/tampered/lying_directory.pt", "pytorch-zip", ok, crit, []string{"MLS-ARC-001@archive/extra", "MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/tampered/hidden_entry.pt", "pytorch-zip", ok, crit, []string{"MLS-ARC-002@archive/evil.pkl", "MLS-PKL-001@archive/evil.pkl"}},
		{"../testdata/tampered/prepended_junk.pt", "pytorch-zip", ok, crit, []string{"MLS-ARC-006@", "MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/tampered/pickle_polyglot.pt", "pytorch-zip", ok, crit, []string{"MLS-ARC-006@", "MLS-PKL-001@<prepended data>"}},
		{"../testdata/tampered/duplicate_names.pt", "pytorch-zip", ok, crit, []string{"MLS-ARC-005@archive/data.pkl", "MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/tampered/zip_slip.zip", "zip", ok, crit, []string{"MLS-ARC-004@../../home/user/.bashrc", "MLS-PKL-001@/etc/evil.pkl"}},
		{"../testdata/tampered/truncated.pt", "pytorch-zip", inc, crit, []string{"MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/tampered/descriptors_no_directory.pt", "pytorch-zip", inc, crit, []string{"MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/tampered/bad_crc_member.pt", "zip", inc, crit, []string{"MLS-PKL-001@archive/data.pkl"}},
		{"../testdata/wrapped/malicious.pt.gz", "gzip", ok, crit, []string{"MLS-PKL-001@malicious.pt!archive/data.pkl"}},
		{"../testdata/wrapped/malicious.pt.bz2", "bzip2", ok, crit, []string{"MLS-PKL-001@malicious.pt!archive/data.pkl"}},
		{"../testdata/wrapped/malicious.pt.xz", "xz", ok, crit, []string{"MLS-PKL-001@malicious.pt!archive/data.pkl"}},
		{"../testdata/wrapped/malicious.pt.zst", "zstd", ok, crit, []string{"MLS-PKL-001@malicious.pt!archive/data.pkl"}},
		{"../testdata/wrapped/malicious.pt.lz4", "lz4", ok, crit, []string{"MLS-PKL-001@malicious.pt!archive/data.pkl"}},
		{"../testdata/wrapped/malicious.pt.7z", "7z", ok, crit, []string{"MLS-PKL-001@malicious.pt!archive/data.pkl"}},
		{"../testdata/wrapped/malicious.pkl.z", "zlib", ok, crit, []string{"MLS-PKL-001@malicious.pkl"}},
		{"../testdata/wrapped/malicious.pkl.lzma", "lzma", ok, crit, []string{"MLS-PKL-001@malicious.pkl"}},
		{"../testdata/wrapped/bundle.tar", "tar", ok, crit, []string{"MLS-PKL-001@model/extra.pkl"}},
		{"../testdata/wrapped/bundle.tar.gz", "gzip", ok, crit, []string{"MLS-PKL-001@bundle.tar!model/extra.pkl"}},
		// Legacy (non-zip) torch.save files.
		{"../../pytorch/testdata/legacy_sequential_state_dict.pt", "pytorch-legacy", ok, nil, nil},
		{"../../pytorch/testdata/legacy_lstm_state_dict.pt", "pytorch-legacy", ok, nil, nil},
		{"../../pytorch/testdata/legacy_mixed_dtypes.pt", "pytorch-legacy", ok, nil, nil},
		{"../../pytorch/testdata/benign_state_dict_legacy.pt", "pytorch-legacy", ok, nil, nil},
		{"../../pytorch/testdata/mal_full_model_reduce_legacy.pth", "pytorch-legacy", ok, crit, []string{"MLS-PKL-001@"}},
		{"../testdata/wrapped/malicious_zf.pkl", "zlib", ok, crit, []string{"MLS-PKL-001@malicious_zf.pkl"}},
		// Invalid or unreadable: never clean.
		{"../testdata/corpus/truncated_torch_zip.pt", "pytorch-zip", inc, nil, nil},
		{"../testdata/wrapped/encrypted_zipcrypto.zip", "zip", inc, nil, nil},
		{"../testdata/wrapped/encrypted_aes.zip", "zip", inc, nil, nil},
		{"../testdata/wrapped/encrypted.7z", "7z", inc, nil, nil},
		{"../testdata/wrapped/encrypted_headers.7z", "7z", inc, nil, nil},
	})
}

// TestRegistryTorchScript checks this package's TorchScript findings only:
// what the pickle engine thinks of TorchScript's own pickles is its call.
func TestRegistryTorchScript(t *testing.T) {
	e := scan.New(registry.Scanners(registry.Config{}), scan.Options{Workers: 1})
	for file, wantDanger := range map[string]bool{
		"../testdata/torch/torchscript_scripted.pt":     false,
		"../testdata/torch/torchscript_traced.pt":       false,
		"../testdata/tampered/torchscript_os_system.pt": true,
	} {
		ar := e.ScanFile(context.Background(), file)
		if ar.Artifact.Format != "torchscript" {
			t.Errorf("%s: format %q", file, ar.Artifact.Format)
		}
		var listed, danger bool
		for _, f := range ar.Findings {
			listed = listed || f.RuleID == "MLS-PT-001"
			danger = danger || (f.RuleID == "MLS-PT-002" && f.Severity == finding.High)
			// TorchScript's own pickles are benign: only the code rules speak.
			if !strings.HasPrefix(f.RuleID, "MLS-PT-") {
				t.Errorf("%s: unexpected %s %s at %s", file, f.RuleID, f.Title, f.Location.Member)
			}
		}
		if !listed || danger != wantDanger {
			t.Errorf("%s: code listed %v, dangerous %v (want %v)", file, listed, danger, wantDanger)
		}
	}
}
