package sarif_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/reporttest"
	"github.com/mlsec/mlsec/internal/report/sarif"
)

const schemaPath = "testdata/sarif-schema-2.1.0.json"

func encode(t *testing.T, r *finding.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := sarif.New(sarif.Options{}).Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Minimal SARIF object model for assertions (a separate decoder from the
// encoder's own types, so a wrong tag cannot hide on both sides).
type sLog struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []sRun `json:"runs"`
}

type sRun struct {
	Tool struct {
		Driver struct {
			Name           string  `json:"name"`
			Version        string  `json:"version"`
			InformationURI string  `json:"informationUri"`
			Rules          []sRule `json:"rules"`
			Notifications  []sRule `json:"notifications"`
		} `json:"driver"`
	} `json:"tool"`
	Invocations []struct {
		ExecutionSuccessful        bool   `json:"executionSuccessful"`
		StartTimeUTC               string `json:"startTimeUtc"`
		EndTimeUTC                 string `json:"endTimeUtc"`
		ToolExecutionNotifications []struct {
			Level   string `json:"level"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
			Descriptor struct {
				ID string `json:"id"`
			} `json:"descriptor"`
			Locations []sLocation `json:"locations"`
		} `json:"toolExecutionNotifications"`
	} `json:"invocations"`
	Artifacts []struct {
		Location sArtifactLocation `json:"location"`
		Length   *int64            `json:"length"`
		Hashes   map[string]string `json:"hashes"`
	} `json:"artifacts"`
	Results []sResult `json:"results"`
}

type sRule struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	ShortDescription struct {
		Text string `json:"text"`
	} `json:"shortDescription"`
	FullDescription struct {
		Text string `json:"text"`
	} `json:"fullDescription"`
	HelpURI string `json:"helpUri"`
	Help    struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown"`
	} `json:"help"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties struct {
		Tags             []string `json:"tags"`
		SecuritySeverity string   `json:"security-severity"`
	} `json:"properties"`
}

type sArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
	Index     *int   `json:"index"`
}

type sLocation struct {
	PhysicalLocation *struct {
		ArtifactLocation sArtifactLocation `json:"artifactLocation"`
		Region           *struct {
			StartLine   int    `json:"startLine"`
			StartColumn int    `json:"startColumn"`
			ByteOffset  *int64 `json:"byteOffset"`
		} `json:"region"`
	} `json:"physicalLocation"`
	LogicalLocations []struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	} `json:"logicalLocations"`
}

type sResult struct {
	RuleID    string `json:"ruleId"`
	RuleIndex int    `json:"ruleIndex"`
	Level     string `json:"level"`
	Message   struct {
		Text string `json:"text"`
	} `json:"message"`
	Locations           []sLocation       `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

func decode(t *testing.T, b []byte) sRun {
	t.Helper()
	var l sLog
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	if l.Version != "2.1.0" || l.Schema != sarif.SchemaURI {
		t.Errorf("version %q schema %q", l.Version, l.Schema)
	}
	if len(l.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(l.Runs))
	}
	return l.Runs[0]
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *finding.Report
	}{
		{"sample.sarif", reporttest.Sample()},
		{"empty.sarif", reporttest.Empty()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encode(t, tc.rep)
			if again := encode(t, tc.rep); !bytes.Equal(got, again) {
				t.Error("output is not deterministic")
			}
			reporttest.Golden(t, tc.name, got)
		})
	}
}

// The vendored OASIS schema must be the live one: it accepts a minimal log
// and rejects broken ones, so validation below means something.
func TestVendoredSchema(t *testing.T) {
	s := reporttest.Schema(t, schemaPath)
	ok := `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[]}]}`
	if err := reporttest.Validate(s, []byte(ok)); err != nil {
		t.Fatalf("minimal log rejected: %v", err)
	}
	for _, bad := range []string{
		`{"runs":[]}`,
		`{"version":"2.0.0","runs":[]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a b"},"region":{"startLine":0}}}]}]}]}`,
	} {
		if reporttest.Validate(s, []byte(bad)) == nil {
			t.Errorf("schema accepted %s", bad)
		}
	}
}

func TestValidatesAgainstSchema(t *testing.T) {
	s := reporttest.Schema(t, schemaPath)
	unregistered := reporttest.Sample()
	unregistered.Artifacts[2].Findings[0].RuleID = "MLS-ZZZ-999" // not in the catalogue
	abs := reporttest.Sample()
	abs.Artifacts[0].Artifact.Path = "/tmp/abs dir/ü#1.md"
	for name, r := range map[string]*finding.Report{
		"sample":       reporttest.Sample(),
		"empty":        reporttest.Empty(),
		"unregistered": unregistered,
		"absolute":     abs,
		"bare":         {},
	} {
		t.Run(name, func(t *testing.T) {
			if err := reporttest.Validate(s, encode(t, r)); err != nil {
				t.Fatalf("output does not match the SARIF 2.1.0 schema:\n%v", err)
			}
		})
	}
}

func TestRulesAndResults(t *testing.T) {
	run := decode(t, encode(t, reporttest.Sample()))
	d := run.Tool.Driver
	if d.Name != "mlsec" || d.Version != "0.1.0-test" || d.InformationURI != sarif.DefaultInformationURI {
		t.Errorf("driver = %q %q %q", d.Name, d.Version, d.InformationURI)
	}
	// Only rules that fired, sorted by ID.
	var ids []string
	for _, r := range d.Rules {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "MLS-TEST-001,MLS-TEST-002,MLS-TEST-003,MLS-TEST-004" {
		t.Errorf("rules = %s", got)
	}
	wantSev := map[string][2]string{
		"MLS-TEST-001": {"error", "9.5"}, "MLS-TEST-002": {"error", "8.0"},
		"MLS-TEST-003": {"warning", "5.5"}, "MLS-TEST-004": {"note", "0.0"},
	}
	for _, r := range d.Rules {
		if got := [2]string{r.DefaultConfiguration.Level, r.Properties.SecuritySeverity}; got != wantSev[r.ID] {
			t.Errorf("%s: level/security-severity = %v, want %v", r.ID, got, wantSev[r.ID])
		}
		if r.Name == "" || r.ShortDescription.Text == "" || r.FullDescription.Text == "" || r.Help.Text == "" ||
			r.Help.Markdown == "" || !strings.HasPrefix(r.HelpURI, "https://") {
			t.Errorf("%s: incomplete descriptor %+v", r.ID, r)
		}
		if len(r.Properties.Tags) == 0 || r.Properties.Tags[0] != "security" {
			t.Errorf("%s: tags %v lack security", r.ID, r.Properties.Tags)
		}
	}
	tags := strings.Join(d.Rules[0].Properties.Tags, " ")
	for _, want := range []string{"external/cwe/cwe-502", "external/mitre-atlas/AML.T0011.000", "external/mitre-atlas/AML.T0010.003", "external/owasp-ml-top-10/ML06"} {
		if !strings.Contains(tags, want) {
			t.Errorf("MLS-TEST-001 tags %q lack %s", tags, want)
		}
	}
	if !strings.Contains(d.Rules[2].Help.Markdown, "[CVE-2024-0001](https://www.cve.org/CVERecord?id=CVE-2024-0001)") {
		t.Errorf("help markdown lacks the CVE link:\n%s", d.Rules[2].Help.Markdown)
	}

	if len(run.Results) != 5 {
		t.Fatalf("%d results, want 5", len(run.Results))
	}
	levels := map[string]string{}
	fps := map[string]bool{}
	for _, r := range run.Results {
		if d.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s has ruleIndex %d -> %s", r.RuleID, r.RuleIndex, d.Rules[r.RuleIndex].ID)
		}
		levels[r.RuleID+"/"+r.Properties["severity"].(string)] = r.Level
		// GitHub code scanning needs a location with a file and a startLine.
		if len(r.Locations) != 1 || r.Locations[0].PhysicalLocation == nil ||
			r.Locations[0].PhysicalLocation.Region == nil || r.Locations[0].PhysicalLocation.Region.StartLine < 1 {
			t.Errorf("%s: no region with startLine: %+v", r.RuleID, r.Locations)
		}
		fp := r.PartialFingerprints[sarif.FingerprintKey]
		if len(fp) != 64 || fps[fp] {
			t.Errorf("%s: fingerprint %q missing or duplicate", r.RuleID, fp)
		}
		fps[fp] = true
	}
	wantLevels := map[string]string{"MLS-TEST-001/critical": "error", "MLS-TEST-002/high": "error",
		"MLS-TEST-003/medium": "warning", "MLS-TEST-004/info": "note"}
	for k, v := range wantLevels {
		if levels[k] != v {
			t.Errorf("%s level = %q, want %q", k, levels[k], v)
		}
	}
}

func TestLocations(t *testing.T) {
	run := decode(t, encode(t, reporttest.Sample()))
	byRule := map[string][]sResult{}
	for _, r := range run.Results {
		byRule[r.RuleID] = append(byRule[r.RuleID], r)
	}

	// Inside an archive member: the file is the container, the member and
	// positions inside it are logical location and properties.
	call := byRule["MLS-TEST-001"][0]
	pl := call.Locations[0].PhysicalLocation
	if pl.ArtifactLocation.URI != "models/evil.pt" || pl.ArtifactLocation.URIBaseID != "%SRCROOT%" {
		t.Errorf("artifact location %+v", pl.ArtifactLocation)
	}
	if pl.Region.StartLine != 1 || pl.Region.ByteOffset != nil {
		t.Errorf("member finding region %+v: want startLine 1 and no file byteOffset", *pl.Region)
	}
	ll := call.Locations[0].LogicalLocations
	if len(ll) != 1 || ll[0].Name != "evil/data.pkl" || ll[0].FullyQualifiedName != "models/evil.pt!evil/data.pkl" {
		t.Errorf("logical locations %+v", ll)
	}
	if call.Properties["member"] != "evil/data.pkl" || call.Properties["memberOffset"] != 64.0 || call.Properties["opcodeIndex"] != 12.0 {
		t.Errorf("properties %v", call.Properties)
	}
	wantMsg := "Pickle calls a dangerous function (in evil/data.pkl, at byte 64, opcode 12): os.system('true') reached via REDUCE"
	if call.Message.Text != wantMsg {
		t.Errorf("message %q, want %q", call.Message.Text, wantMsg)
	}

	// Offset in the file itself: byteOffset, plus startLine 1 for GitHub.
	var legacy sResult
	for _, r := range byRule["MLS-TEST-002"] {
		if strings.HasPrefix(r.Locations[0].PhysicalLocation.ArtifactLocation.URI, "models/legacy") {
			legacy = r
		}
	}
	lp := legacy.Locations[0].PhysicalLocation
	if lp == nil || lp.ArtifactLocation.URI != "models/legacy%20v1.pkl" {
		t.Fatalf("legacy location %+v", lp)
	}
	if lp.Region.ByteOffset == nil || *lp.Region.ByteOffset != 17 || lp.Region.StartLine != 1 {
		t.Errorf("legacy region %+v", *lp.Region)
	}

	// Line and column.
	nb := byRule["MLS-TEST-003"][0].Locations[0].PhysicalLocation
	if nb.Region.StartLine != 12 || nb.Region.StartColumn != 5 || nb.Region.ByteOffset != nil {
		t.Errorf("notebook region %+v", *nb.Region)
	}

	// Artifacts: every listed file once, hashes when known, indexes match.
	if len(run.Artifacts) != 5 {
		t.Fatalf("%d artifacts, want 5", len(run.Artifacts))
	}
	for _, r := range run.Results {
		al := r.Locations[0].PhysicalLocation.ArtifactLocation
		if al.Index == nil || run.Artifacts[*al.Index].Location.URI != al.URI {
			t.Errorf("%s: artifact index %v does not point at %s", r.RuleID, al.Index, al.URI)
		}
	}
	evil := run.Artifacts[*pl.ArtifactLocation.Index]
	if evil.Hashes["sha-256"] != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" || evil.Length == nil || *evil.Length != 2048 {
		t.Errorf("evil.pt artifact %+v", evil)
	}
}

func TestInconclusiveNotification(t *testing.T) {
	run := decode(t, encode(t, reporttest.Sample()))
	if len(run.Invocations) != 1 {
		t.Fatalf("%d invocations", len(run.Invocations))
	}
	inv := run.Invocations[0]
	if !inv.ExecutionSuccessful || inv.StartTimeUTC != "2026-01-02T03:04:05Z" || inv.EndTimeUTC != "2026-01-02T03:04:06.234Z" {
		t.Errorf("invocation %+v", inv)
	}
	if len(inv.ToolExecutionNotifications) != 1 {
		t.Fatalf("%d notifications, want 1", len(inv.ToolExecutionNotifications))
	}
	n := inv.ToolExecutionNotifications[0]
	if n.Level != "warning" || n.Descriptor.ID != sarif.InconclusiveID ||
		!strings.Contains(n.Message.Text, "models/legacy v1.pkl: inconclusive — not verified clean: pickle: stream truncated at byte 4096; ") ||
		len(n.Locations) != 1 || n.Locations[0].PhysicalLocation.ArtifactLocation.URI != "models/legacy%20v1.pkl" {
		t.Errorf("notification %+v", n)
	}
	if nd := run.Tool.Driver.Notifications; len(nd) != 1 || nd[0].ID != sarif.InconclusiveID {
		t.Errorf("driver notifications %+v", nd)
	}
}

func TestEmpty(t *testing.T) {
	out := encode(t, reporttest.Empty())
	run := decode(t, out)
	if run.Results == nil || len(run.Results) != 0 || len(run.Tool.Driver.Rules) != 0 {
		t.Errorf("empty report: results %v rules %v", run.Results, run.Tool.Driver.Rules)
	}
	if !bytes.Contains(out, []byte(`"results": []`)) {
		t.Error(`an actual scan must carry "results": [] even when empty`)
	}
}

func TestArtifactURI(t *testing.T) {
	for _, tc := range []struct{ path, uri, base string }{
		{"model.pt", "model.pt", "%SRCROOT%"},
		{"./models/../models/a.pt", "models/a.pt", "%SRCROOT%"},
		{"dir/a b.pt", "dir/a%20b.pt", "%SRCROOT%"},
		{"dir/ü.pt", "dir/%C3%BC.pt", "%SRCROOT%"},
		{"#x?.pt", "%23x%3F.pt", "%SRCROOT%"},
		{"100%.pt", "100%25.pt", "%SRCROOT%"},
		{"a:b.pt", "a%3Ab.pt", "%SRCROOT%"},
		{"x/[1].pt", "x/%5B1%5D.pt", "%SRCROOT%"},
		{"/abs/p q.pt", "file:///abs/p%20q.pt", ""},
		{"/abs/a:b.pt", "file:///abs/a:b.pt", ""},
	} {
		a := finding.Artifact{Path: tc.path, Size: 1}
		r := &finding.Report{Artifacts: []finding.ArtifactResult{{Artifact: a, Status: finding.StatusComplete,
			Findings: []finding.Finding{finding.New(reporttest.RuleCall, a, finding.Location{})}}}}
		al := decode(t, encode(t, r)).Results[0].Locations[0].PhysicalLocation.ArtifactLocation
		if al.URI != tc.uri || al.URIBaseID != tc.base {
			t.Errorf("%q -> %q (base %q), want %q (base %q)", tc.path, al.URI, al.URIBaseID, tc.uri, tc.base)
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := finding.New(reporttest.RuleCall, finding.Artifact{Path: "m/a.pt"}, finding.Location{Member: "x.pkl"}.At(5))
	same := base
	same.Evidence.Text = "different evidence, same place"
	if sarif.Fingerprint(base) != sarif.Fingerprint(same) {
		t.Error("fingerprint depends on evidence")
	}
	for name, f := range map[string]finding.Finding{
		"rule":   func() finding.Finding { g := base; g.RuleID = "MLS-TEST-002"; return g }(),
		"path":   func() finding.Finding { g := base; g.Artifact.Path = "m/b.pt"; return g }(),
		"member": func() finding.Finding { g := base; g.Location.Member = "y.pkl"; return g }(),
		"offset": func() finding.Finding { g := base; g.Location = g.Location.At(6); return g }(),
		"no offset": func() finding.Finding {
			g := base
			g.Location.Offset = nil
			return g
		}(),
		// The separator keeps field boundaries: ("ab","c") != ("a","bc").
		"boundary": func() finding.Finding { g := base; g.Artifact.Path = "m/a.ptx"; g.Location.Member = ".pkl"; return g }(),
	} {
		if sarif.Fingerprint(f) == sarif.Fingerprint(base) {
			t.Errorf("changing %s does not change the fingerprint", name)
		}
	}
}

func TestLevels(t *testing.T) {
	for s, want := range map[finding.Severity][2]string{
		finding.Critical: {"error", "9.5"}, finding.High: {"error", "8.0"}, finding.Medium: {"warning", "5.5"},
		finding.Low: {"note", "3.0"}, finding.Info: {"note", "0.0"},
	} {
		if got := [2]string{sarif.Level(s), sarif.SecuritySeverity(s)}; got != want {
			t.Errorf("%s: %v, want %v", s, got, want)
		}
	}
}

func TestErrors(t *testing.T) {
	if err := sarif.New(sarif.Options{}).Encode(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil report: want error")
	}
	r := reporttest.Sample()
	r.Artifacts[2].Findings[0].Severity = -3
	if err := sarif.New(sarif.Options{}).Encode(&bytes.Buffer{}, r); err == nil {
		t.Error("invalid severity: want error")
	}
}

func TestInformationURI(t *testing.T) {
	var b bytes.Buffer
	if err := sarif.New(sarif.Options{InformationURI: "https://example.com/mlsec"}).Encode(&b, reporttest.Empty()); err != nil {
		t.Fatal(err)
	}
	if got := decode(t, b.Bytes()).Tool.Driver.InformationURI; got != "https://example.com/mlsec" {
		t.Errorf("informationUri = %q", got)
	}
}

// A finding whose rule is not in the catalogue still gets a full descriptor,
// built from the finding; tags stop at GitHub's limit of 20.
func TestUncataloguedRule(t *testing.T) {
	a := finding.Artifact{Path: "m.pkl", Size: 1}
	f := finding.Finding{RuleID: "MLS-ZZZ-001", Severity: finding.High, Title: "Odd thing found",
		Description: "Something odd.", Artifact: a}
	for i := range 25 {
		f.References = append(f.References, finding.CWE(100+i))
	}
	r := &finding.Report{Artifacts: []finding.ArtifactResult{{Artifact: a, Status: finding.StatusComplete, Findings: []finding.Finding{f}}}}
	rules := decode(t, encode(t, r)).Tool.Driver.Rules
	if len(rules) != 1 {
		t.Fatalf("%d rules", len(rules))
	}
	got := rules[0]
	if got.ID != "MLS-ZZZ-001" || got.Name != "OddThingFound" || got.FullDescription.Text != "Something odd." ||
		got.DefaultConfiguration.Level != "error" || got.Properties.SecuritySeverity != "8.0" {
		t.Errorf("descriptor %+v", got)
	}
	if len(got.Properties.Tags) != 20 || got.Properties.Tags[0] != "security" {
		t.Errorf("%d tags: %v", len(got.Properties.Tags), got.Properties.Tags)
	}
}
