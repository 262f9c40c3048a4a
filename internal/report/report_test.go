package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		format string
		check  func(out string) bool
	}{
		{"table", func(out string) bool { return strings.HasSuffix(out, "1 skipped (not a model format)\n") }},
		{"json", func(out string) bool { return json.Valid([]byte(out)) && strings.Contains(out, `"schema_version"`) }},
		{"sarif", func(out string) bool { return json.Valid([]byte(out)) && strings.Contains(out, `"version": "2.1.0"`) }},
		{" SARIF ", func(out string) bool { return strings.Contains(out, `"runs"`) }},
		{"JSON", func(out string) bool { return strings.HasPrefix(out, "{\n  \"schema_version\"") }},
	} {
		t.Run(tc.format, func(t *testing.T) {
			enc, err := report.New(tc.format, report.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := enc.Encode(&b, reporttest.Sample()); err != nil {
				t.Fatal(err)
			}
			if !tc.check(b.String()) {
				t.Errorf("unexpected %s output:\n%s", tc.format, b.String())
			}
		})
	}
}

func TestNewUnknownFormat(t *testing.T) {
	for _, f := range []string{"", "xml", "html", "tablex"} {
		enc, err := report.New(f, report.Options{})
		if enc != nil || !errors.Is(err, report.ErrUnknownFormat) {
			t.Errorf("New(%q) = %v, %v; want ErrUnknownFormat", f, enc, err)
			continue
		}
		if !strings.Contains(err.Error(), "table, json, sarif") {
			t.Errorf("error %q does not list the valid formats", err)
		}
	}
	if got := strings.Join(report.Formats(), ","); got != "table,json,sarif" {
		t.Errorf("Formats() = %s", got)
	}
}

func TestOptionsReachTable(t *testing.T) {
	out := func(o report.Options) string {
		enc, err := report.New("table", o)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := enc.Encode(&b, reporttest.Sample()); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if !strings.Contains(out(report.Options{Color: true}), "\x1b[") || strings.Contains(out(report.Options{}), "\x1b[") {
		t.Error("Color not passed to the table")
	}
	if !strings.Contains(out(report.Options{Verbose: true}), "clean.safetensors") {
		t.Error("Verbose not passed to the table")
	}
	if strings.Count(out(report.Options{Quiet: true}), "\n") != 1 {
		t.Error("Quiet not passed to the table")
	}
	// Options that do not apply are ignored, not errors.
	for _, f := range []string{"json", "sarif"} {
		enc, err := report.New(f, report.Options{Color: true, Quiet: true, Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := enc.Encode(&b, reporttest.Sample()); err != nil || bytes.Contains(b.Bytes(), []byte("\x1b[")) {
			t.Errorf("%s with table options: %v", f, err)
		}
	}
}

func TestEncoderFunc(t *testing.T) {
	var got *finding.Report
	var e report.Encoder = report.EncoderFunc(func(w io.Writer, r *finding.Report) error {
		got = r
		_, err := io.WriteString(w, "ok")
		return err
	})
	want := reporttest.Empty()
	var b bytes.Buffer
	if err := e.Encode(&b, want); err != nil || got != want || b.String() != "ok" {
		t.Errorf("EncoderFunc did not call through: %v %v %q", err, got, b.String())
	}
}
