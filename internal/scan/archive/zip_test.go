package archive

import (
	"bytes"
	"hash/crc32"
	"testing"
)

var (
	evil   = []byte("EVIL pickle stand-in")
	benign = []byte("GOOD pickle stand-in")
)

func torchLayout(pkl []byte) []zipSpec {
	return []zipSpec{
		{name: "archive/data.pkl", data: pkl},
		{name: "archive/byteorder", data: []byte("little")},
		{name: "archive/data/0", data: make([]byte, 64)},
		{name: "archive/version", data: []byte("3\n")},
	}
}

func TestZipTolerant(t *testing.T) {
	t.Parallel()
	withSpec := func(specs []zipSpec, i int, f func(*zipSpec)) []zipSpec {
		out := append([]zipSpec(nil), specs...)
		f(&out[i])
		return out
	}
	full := buildZip(nil, torchLayout(evil), false)
	tests := []struct {
		name     string
		data     []byte
		format   string
		complete bool
		want     []string // rule@member findings that must be present
		gap      string   // substring of a gap, when incomplete
	}{
		{"plain", full, "pytorch-zip", true, []string{"MLS-TEST-950@archive/data.pkl"}, ""},
		{"benign", buildZip(nil, torchLayout(benign), false), "pytorch-zip", true, nil, ""},
		{"deflated", buildZip(nil, withSpec(torchLayout(evil), 0, func(s *zipSpec) { s.deflate = true }), false),
			"pytorch-zip", true, []string{"MLS-TEST-950@archive/data.pkl"}, ""},
		{"fake encryption flag", buildZip(nil, withSpec(torchLayout(evil), 0, func(s *zipSpec) { s.flags = 1 }), false),
			"pytorch-zip", true, []string{"MLS-ARC-003@archive/data.pkl", "MLS-TEST-950@archive/data.pkl"}, ""},
		{"fake encryption flag deflated", buildZip(nil, withSpec(torchLayout(evil), 0, func(s *zipSpec) { s.flags, s.deflate = 1, true }), false),
			"pytorch-zip", true, []string{"MLS-ARC-003@archive/data.pkl", "MLS-TEST-950@archive/data.pkl"}, ""},
		{"real encryption", buildZip(nil, withSpec(torchLayout(benign), 0, func(s *zipSpec) { s.flags, s.crc = 1, u32p(0xdeadbeef) }), false),
			"pytorch-zip", false, nil, "encrypted member"},
		{"aes method", buildZip(nil, withSpec(torchLayout(benign), 0, func(s *zipSpec) { s.method = u16p(99) }), false),
			"pytorch-zip", false, nil, "encrypted member"},
		{"unsupported method", buildZip(nil, withSpec(torchLayout(benign), 0, func(s *zipSpec) { s.method = u16p(9) }), false),
			"pytorch-zip", false, nil, "unsupported compression method 9"},
		{"directory renames and shortens", buildZip(nil, withSpec(torchLayout(evil), 0, func(s *zipSpec) { s.cdName, s.cdCSize = "archive/extra", u32p(4) }), false),
			"pytorch-zip", false, []string{"MLS-ARC-001@archive/extra", "MLS-TEST-950@archive/data.pkl", "MLS-TEST-950@archive/extra"}, "CRC mismatch"},
		{"hidden entry", buildZip(nil, append(torchLayout(benign), zipSpec{name: "archive/evil.pkl", data: evil, hidden: true}), false),
			"pytorch-zip", true, []string{"MLS-ARC-002@archive/evil.pkl", "MLS-TEST-950@archive/evil.pkl"}, ""},
		{"hidden entry first", buildZip(nil, append([]zipSpec{{name: "x/evil.pkl", data: evil, hidden: true}}, torchLayout(benign)...), false),
			"pytorch-zip", true, []string{"MLS-ARC-002@x/evil.pkl", "MLS-TEST-950@x/evil.pkl"}, ""},
		{"truncated", full[:len(full)*2/3], "pytorch-zip", false, []string{"MLS-TEST-950@archive/data.pkl"}, "no usable central directory"},
		{"descriptors without directory", buildZip(nil, func() []zipSpec {
			s := torchLayout(evil)
			for i := range s {
				s[i].descriptor = true
			}
			return s
		}(), true), "pytorch-zip", false, []string{"MLS-TEST-950@archive/data.pkl"}, "no usable central directory"},
		{"deflated descriptors without directory", buildZip(nil, func() []zipSpec {
			s := torchLayout(evil)
			for i := range s {
				s[i].descriptor, s[i].deflate = true, true
			}
			return s
		}(), true), "pytorch-zip", false, []string{"MLS-TEST-950@archive/data.pkl"}, "no usable central directory"},
		{"descriptors with directory", buildZip(nil, func() []zipSpec {
			s := torchLayout(evil)
			for i := range s {
				s[i].descriptor = true
			}
			return s
		}(), false), "pytorch-zip", true, []string{"MLS-TEST-950@archive/data.pkl"}, ""},
		{"zip64", buildZip(nil, withSpec(torchLayout(evil), 0, func(s *zipSpec) { s.zip64 = true }), false),
			"pytorch-zip", true, []string{"MLS-TEST-950@archive/data.pkl"}, ""},
		{"prepended junk", append(bytes.Repeat([]byte("JUNK"), 100), full...), "pytorch-zip", true,
			[]string{"MLS-ARC-006@", "MLS-TEST-950@archive/data.pkl"}, ""},
		{"prepended payload", append(append([]byte(nil), evil...), buildZip(nil, torchLayout(benign), false)...), "pytorch-zip", true,
			[]string{"MLS-ARC-006@", "MLS-TEST-950@<prepended data>"}, ""},
		{"appended payload", append(buildZip(nil, torchLayout(benign), false), evil...), "pytorch-zip", true,
			[]string{"MLS-ARC-006@", "MLS-TEST-950@<appended data>"}, ""},
		{"duplicate names", buildZip(nil, append([]zipSpec{{name: "archive/data.pkl", data: benign}}, torchLayout(evil)...), false),
			"pytorch-zip", true, []string{"MLS-ARC-005@archive/data.pkl", "MLS-TEST-950@archive/data.pkl"}, ""},
		{"zip slip", buildZip(nil, []zipSpec{{name: "../../etc/x.pkl", data: evil}, {name: `C:\evil.pkl`, data: benign}}, false),
			"zip", true, []string{"MLS-ARC-004@../../etc/x.pkl", "MLS-ARC-004@C:\\evil.pkl", "MLS-TEST-950@../../etc/x.pkl"}, ""},
		{"bad crc deflated", buildZip(nil, []zipSpec{{name: "a.pkl", data: benign, deflate: true, crc: u32p(1)}, {name: "b.pkl", data: evil}}, false),
			"zip", false, []string{"MLS-TEST-950@b.pkl"}, "CRC mismatch"},
		{"bad crc stored", buildZip(nil, []zipSpec{{name: "a.pkl", data: benign, crc: u32p(1)}, {name: "b.pkl", data: evil}}, false),
			"zip", false, []string{"MLS-TEST-950@b.pkl"}, "CRC mismatch"},
		{"corrupt deflate", buildZip(nil, []zipSpec{{name: "a.pkl", data: benign, method: u16p(8)}, {name: "b.pkl", data: evil}}, false),
			"zip", false, []string{"MLS-TEST-950@b.pkl"}, "a.pkl"},
		{"empty", buildZip(nil, nil, false), "zip", true, nil, ""},
		{"npz", buildZip(nil, []zipSpec{{name: "a.npy", data: benign}, {name: "b.npy", data: evil}}, false),
			"numpy-npz", true, []string{"MLS-TEST-950@b.npy"}, ""},
		{"keras", buildZip(nil, []zipSpec{{name: "config.json", data: []byte("{}")}, {name: "metadata.json", data: []byte("{}")}}, false),
			"keras-v3", true, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := scanBytes(t, "model.pt", tc.data, zeroLimits)
			if res.Format != tc.format {
				t.Errorf("format %q, want %q", res.Format, tc.format)
			}
			if res.Coverage.Complete != tc.complete {
				t.Errorf("complete = %v, want %v (gaps %v)", res.Coverage.Complete, tc.complete, res.Coverage.Gaps)
			}
			if tc.gap != "" && !gapsContain(res.Coverage.Gaps, tc.gap) {
				t.Errorf("gaps %v lack %q", res.Coverage.Gaps, tc.gap)
			}
			got := findingKeys(res.Findings)
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("finding %s missing; got %v", w, got)
				}
			}
			if len(tc.want) == 0 && len(got) > 0 {
				t.Errorf("unexpected findings %v", got)
			}
		})
	}
}

func TestClassifyZip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"archive/data.pkl", "archive/version", "archive/data/0"}, "pytorch-zip"},
		{[]string{"m/data.pkl", "m/.data/version"}, "pytorch-zip"},
		{[]string{"data.pkl", "version"}, "pytorch-zip"},
		{[]string{"m/data.pkl", "m/code/__torch__.py", "m/constants.pkl", "m/version"}, "torchscript"},
		{[]string{"config.json", "metadata.json", "model.weights.h5"}, "keras-v3"},
		{[]string{"a.npy", "b.NPY"}, "numpy-npz"},
		{[]string{"a.npy", "readme.txt"}, "zip"},
		{[]string{"data.pkl"}, "zip"},
		{nil, "zip"},
	}
	for _, tc := range tests {
		if got := classifyZip(tc.names); got != tc.want {
			t.Errorf("classifyZip(%v) = %q, want %q", tc.names, got, tc.want)
		}
	}
}

func TestTraversal(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"a/b.pkl": false, "../x": true, "a/../../x": true, "/etc/passwd": true, `C:\x`: true, `..\x`: true,
		"a..b/c": false, "...": false, "": false,
	} {
		if got := traversal(name); got != want {
			t.Errorf("traversal(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestZipOverlap: a directory record pointing inside another entry's data
// (the non-recursive zip bomb construction) is reported and both entries
// are scanned.
func TestZipOverlap(t *testing.T) {
	t.Parallel()
	inner := buildZip(nil, []zipSpec{{name: "b.pkl", data: evil}}, true) // local header and data only
	outer := buildZip(nil, []zipSpec{{name: "a.bin", data: inner}}, true)
	var cd bytes.Buffer
	rec := func(name string, data []byte, off uint32) {
		le32(&cd, sigCentral)
		le16(&cd, 20)
		le16(&cd, 20)
		le16(&cd, 0)
		le16(&cd, 0)
		le32(&cd, 0)
		le32(&cd, crc32.ChecksumIEEE(data))
		le32(&cd, uint32(len(data)))
		le32(&cd, uint32(len(data)))
		le16(&cd, uint16(len(name)))
		for i := 0; i < 4; i++ {
			le16(&cd, 0)
		}
		le32(&cd, 0)
		le32(&cd, off)
		cd.WriteString(name)
	}
	rec("a.bin", inner, 0)
	rec("b.pkl", evil, uint32(30+len("a.bin")))
	var z bytes.Buffer
	z.Write(outer)
	cdOff := z.Len()
	z.Write(cd.Bytes())
	le32(&z, sigEOCD)
	le32(&z, 0)
	le16(&z, 2)
	le16(&z, 2)
	le32(&z, uint32(cd.Len()))
	le32(&z, uint32(cdOff))
	le16(&z, 0)
	res := scanBytes(t, "bomb.zip", z.Bytes(), zeroLimits)
	if !hasFinding(res.Findings, RuleOverlap.ID, "b.pkl") || !hasFinding(res.Findings, markerRule.ID, "b.pkl") {
		t.Errorf("findings %v gaps %v", findingKeys(res.Findings), res.Coverage.Gaps)
	}
}
