package jsonreport_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/jsonreport"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

const schemaPath = "../../../schema/report.schema.json"

func encode(t *testing.T, r *finding.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jsonreport.New().Encode(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *finding.Report
	}{
		{"sample.json", reporttest.Sample()},
		{"empty.json", reporttest.Empty()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encode(t, tc.rep)
			if !bytes.HasSuffix(got, []byte("}\n")) || bytes.HasSuffix(got, []byte("\n\n")) {
				t.Errorf("want exactly one trailing newline")
			}
			if !bytes.Contains(got, []byte("\n  \"tool\": {\n    \"name\"")) {
				t.Errorf("want 2-space indentation")
			}
			reporttest.Golden(t, tc.name, got)
		})
	}
}

func TestValidatesAgainstSchema(t *testing.T) {
	s := reporttest.Schema(t, schemaPath)
	for name, r := range map[string]*finding.Report{
		"sample": reporttest.Sample(),
		"empty":  reporttest.Empty(),
		// Not finalized, nil slices and map: the encoder must still write
		// a valid document.
		"raw": {Tool: finding.Tool{Name: "mlsec", Version: "devel"}, StartedAt: reporttest.Start,
			Artifacts: []finding.ArtifactResult{{Artifact: finding.Artifact{Path: "x"}, Status: finding.StatusSkipped}}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := reporttest.Validate(s, encode(t, r)); err != nil {
				t.Fatalf("output does not match schema/report.schema.json:\n%v", err)
			}
		})
	}
}

// The schema must reject what the format does not allow; otherwise the
// validation above proves nothing.
func TestSchemaRejects(t *testing.T) {
	s := reporttest.Schema(t, schemaPath)
	good := encode(t, reporttest.Sample())
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"major version", func(m map[string]any) { m["schema_version"] = "2.0.0" }},
		{"unknown top-level field", func(m map[string]any) { m["extra"] = true }},
		{"missing summary", func(m map[string]any) { delete(m, "summary") }},
		{"bad status", func(m map[string]any) { artifact(m, 0)["status"] = "clean" }},
		{"bad severity", func(m map[string]any) { firstFinding(m)["severity"] = "severe" }},
		{"bad rule id", func(m map[string]any) { firstFinding(m)["rule_id"] = "PKL1" }},
		{"negative offset", func(m map[string]any) {
			firstFinding(m)["location"].(map[string]any)["offset"] = -1
		}},
		{"undocumented finding field", func(m map[string]any) { firstFinding(m)["confidence"] = 0.9 }},
		{"bad sha256", func(m map[string]any) {
			artifact(m, 0)["artifact"].(map[string]any)["sha256"] = "XYZ"
		}},
		{"bad timestamp", func(m map[string]any) { m["started_at"] = "yesterday" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if reporttest.Validate(s, b) == nil {
				t.Error("schema accepted an invalid report")
			}
		})
	}
}

func artifact(m map[string]any, i int) map[string]any {
	return m["artifacts"].([]any)[i].(map[string]any)
}

func firstFinding(m map[string]any) map[string]any {
	for _, a := range m["artifacts"].([]any) {
		if fs := a.(map[string]any)["findings"].([]any); len(fs) > 0 {
			return fs[0].(map[string]any)
		}
	}
	panic("sample has no findings")
}

// The schema's version must admit finding.SchemaVersion and its $comment
// must name it, so a version bump cannot forget the schema.
func TestSchemaVersion(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var sch struct {
		Schema     string `json:"$schema"`
		Comment    string `json:"$comment"`
		Properties struct {
			SchemaVersion struct {
				Pattern string `json:"pattern"`
			} `json:"schema_version"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &sch); err != nil {
		t.Fatal(err)
	}
	if sch.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q, want draft 2020-12", sch.Schema)
	}
	re, err := regexp.Compile(sch.Properties.SchemaVersion.Pattern)
	if err != nil {
		t.Fatal(err)
	}
	if !re.MatchString(finding.SchemaVersion) {
		t.Errorf("schema_version pattern %q rejects finding.SchemaVersion %q", re, finding.SchemaVersion)
	}
	if !strings.Contains(sch.Comment, "Version "+finding.SchemaVersion+".") {
		t.Errorf("$comment %q does not name version %s", sch.Comment, finding.SchemaVersion)
	}
}

// Every property in the schema is documented: it has a description, or
// refers to a definition that has one.
func TestSchemaDescribesEveryProperty(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	defs, _ := root["$defs"].(map[string]any)
	described := func(s map[string]any) bool {
		if d, _ := s["description"].(string); d != "" {
			return true
		}
		if ref, _ := s["$ref"].(string); strings.HasPrefix(ref, "#/$defs/") {
			def, _ := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			d, _ := def["description"].(string)
			return d != ""
		}
		return false
	}
	n := 0
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			ps := p.(map[string]any)
			n++
			if !described(ps) {
				t.Errorf("%s.%s has no description", path, name)
			}
			walk(path+"."+name, ps)
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
	}
	walk("report", root)
	for name, d := range defs {
		walk("$defs."+name, d.(map[string]any))
	}
	if n < 40 {
		t.Errorf("walked only %d properties; the walk is broken", n)
	}
}

func TestRoundTrip(t *testing.T) {
	want := reporttest.Sample()
	var got finding.Report
	if err := json.Unmarshal(encode(t, want), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", got, *want)
	}
}

func TestNilCollectionsAreEmpty(t *testing.T) {
	r := &finding.Report{Artifacts: []finding.ArtifactResult{{Artifact: finding.Artifact{Path: "a"}, Status: finding.StatusComplete}}}
	out := string(encode(t, r))
	for _, want := range []string{`"targets": []`, `"findings": []`, `"critical": 0`, `"schema_version": "` + finding.SchemaVersion + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "null") {
		t.Errorf("output has null:\n%s", out)
	}
	if r.Targets != nil || r.Artifacts[0].Findings != nil || r.SchemaVersion != "" {
		t.Error("Encode modified its input")
	}
}

func TestErrors(t *testing.T) {
	var b bytes.Buffer
	if err := jsonreport.New().Encode(&b, nil); err == nil {
		t.Error("nil report: want error")
	}
	r := reporttest.Sample()
	for i := range r.Artifacts {
		for j := range r.Artifacts[i].Findings {
			r.Artifacts[i].Findings[j].Severity = 42
		}
	}
	if err := jsonreport.New().Encode(&b, r); err == nil {
		t.Error("invalid severity: want error")
	}
}

// The schema must describe the Go types exactly: every JSON field of the
// finding model is a schema property, every property is a field, and the
// fields always written (no omitempty) are the required ones. A field added
// to internal/finding without a schema update fails here.
func TestSchemaMatchesGoTypes(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	defs := root["$defs"].(map[string]any)
	props := func(s map[string]any) map[string]any { return s["properties"].(map[string]any) }
	for _, tc := range []struct {
		typ    reflect.Type
		schema map[string]any
	}{
		{reflect.TypeFor[finding.Report](), root},
		{reflect.TypeFor[finding.Tool](), props(root)["tool"].(map[string]any)},
		{reflect.TypeFor[finding.Artifact](), defs["artifact"].(map[string]any)},
		{reflect.TypeFor[finding.Location](), defs["location"].(map[string]any)},
		{reflect.TypeFor[finding.Evidence](), defs["evidence"].(map[string]any)},
		{reflect.TypeFor[finding.Reference](), defs["reference"].(map[string]any)},
		{reflect.TypeFor[finding.Finding](), defs["finding"].(map[string]any)},
		{reflect.TypeFor[finding.ArtifactResult](), defs["artifactResult"].(map[string]any)},
		{reflect.TypeFor[finding.Summary](), defs["summary"].(map[string]any)},
	} {
		t.Run(tc.typ.Name(), func(t *testing.T) {
			if ap, ok := tc.schema["additionalProperties"].(bool); !ok || ap {
				t.Error("schema object must set additionalProperties: false")
			}
			sp := props(tc.schema)
			required := map[string]bool{}
			if rs, ok := tc.schema["required"].([]any); ok {
				for _, r := range rs {
					required[r.(string)] = true
				}
			}
			fields := map[string]bool{}
			for i := range tc.typ.NumField() {
				tag := tc.typ.Field(i).Tag.Get("json")
				name, opts, _ := strings.Cut(tag, ",")
				if name == "-" || name == "" {
					continue
				}
				fields[name] = true
				if sp[name] == nil {
					t.Errorf("field %q is not in the schema", name)
				}
				if omit := strings.Contains(opts, "omitempty"); omit == required[name] {
					t.Errorf("field %q: omitempty=%v but required=%v", name, omit, required[name])
				}
			}
			for name := range sp {
				if !fields[name] {
					t.Errorf("schema property %q is no field of %s", name, tc.typ)
				}
			}
		})
	}
}

// Every reference kind and severity the finding package defines is one the
// schema accepts.
func TestSchemaEnumsCoverFindingModel(t *testing.T) {
	s := reporttest.Schema(t, schemaPath)
	r := reporttest.Sample()
	f := &r.Artifacts[2].Findings[0]
	f.References = []finding.Reference{
		finding.CWE(94), finding.ATLAS("AML.T0010.003"), finding.OWASPML("ML06"),
		finding.CVE("CVE-2025-1716"), finding.GHSA("GHSA-xxxx-yyyy-zzzz"),
		{Kind: finding.RefURL, ID: "blog", URL: "https://example.com/post"},
	}
	for sev := finding.Info; sev <= finding.Critical; sev++ {
		f.Severity = sev
		if err := reporttest.Validate(s, encode(t, r)); err != nil {
			t.Fatalf("severity %s: %v", sev, err)
		}
	}
	for _, st := range []finding.Status{finding.StatusComplete, finding.StatusInconclusive, finding.StatusSkipped} {
		r.Artifacts[0].Status = st
		if err := reporttest.Validate(s, encode(t, r)); err != nil {
			t.Fatalf("status %s: %v", st, err)
		}
	}
}
