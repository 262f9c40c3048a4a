// Package pytorch holds PyTorch-specific analysis: the legacy (pre-1.6,
// non-zip) checkpoint format, a sequence of pickles followed by raw
// storages, and the review of TorchScript code found in zip archives. Zip
// and tar checkpoints are opened by package archive, whose members go to
// the pickle engine.
package pytorch

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

var refs = []finding.Reference{
	finding.CWE(94),
	finding.ATLAS("AML.T0010.003"),
	finding.ATLAS("AML.T0011.000"),
	finding.ATLAS("AML.T0018.002"),
	finding.OWASPML("ML06"),
}

// Rules for PyTorch content.
var (
	RuleTorchScriptCode = finding.MustRegister(finding.Rule{
		ID:       "MLS-PT-001",
		Name:     "TorchScriptCode",
		Title:    "TorchScript code present",
		Severity: finding.Low,
		Summary: "The archive is a TorchScript module: its code/ files are compiled and run when the model is " +
			"loaded with torch.jit.load (and by torch.load on such archives). The code is listed so that someone " +
			"can review it; TorchScript is a restricted language, but custom operators and file operations reach " +
			"native code.",
		Remediation: "Review the listed code before loading the model, or use a format without code (safetensors " +
			"for weights).",
		References: refs,
	})
	RuleTorchScriptDangerous = finding.MustRegister(finding.Rule{
		ID:       "MLS-PT-002",
		Name:     "TorchScriptDangerousCode",
		Title:    "TorchScript code references process, file, import or eval facilities",
		Severity: finding.High,
		Summary: "A TorchScript source file names a module or function that real models never use in " +
			"TorchScript (os, subprocess, builtins, eval/exec, __import__, sockets, torch.hub, reading files). " +
			"TorchScript written by torch.jit never contains these; the archive was likely edited by hand.",
		Remediation: "Do not load the model. Obtain it from its publisher again and verify its signature.",
		References:  refs,
	})
)

// Source is one TorchScript code file read from an archive.
type Source struct {
	// Name is the member name inside its archive ("archive/code/__torch__.py").
	Name string
	// Member is the full member path used for findings.
	Member string
	Text   []byte
}

// dangerousCode matches references real TorchScript never contains.
var dangerousCode = regexp.MustCompile(`\b(?:os|posix|nt|subprocess|builtins|__builtin__|sys|socket|shutil|importlib|runpy|pickle|marshal|ctypes|pty|webbrowser|urllib|requests|http)\s*\.\s*[A-Za-z_]\w*` +
	`|\b(?:eval|exec|__import__|compile|open|system|popen|getattr\s*\(\s*__builtins__)\s*\(` +
	`|\btorch\s*\.\s*(?:hub|load|from_file|classes\s*\.\s*load_library|ops\s*\.\s*load_library)\b` +
	`|\bops\s*\.\s*aten\s*\.\s*from_file\b`)

// customOp finds custom operator namespaces (native code from libraries).
var customOp = regexp.MustCompile(`\bops\s*\.\s*([A-Za-z_]\w*)\s*\.`)

var builtinOpNS = map[string]bool{
	"aten": true, "prim": true, "quantized": true, "_quantized": true, "prepacked": true, "_caffe2": true,
	"torchvision": true, "image": true, "profiler": true, "cuda": true, "mkldnn": true, "_mkldnn": true,
	"quantized_decomposed": true, "_c10d_functional": true, "c10d": true, "fbgemm": true, "sparse": true,
}

// ReviewTorchScript reports the TorchScript sources of an archive: one low
// finding listing them, and a high finding for each file that references
// process, file, import or eval facilities.
func ReviewTorchScript(in *scan.Input, files []Source) []finding.Finding {
	if len(files) == 0 {
		return nil
	}
	var out []finding.Finding
	names := make([]string, 0, len(files))
	customNS := map[string]bool{}
	for _, f := range files {
		names = append(names, f.Name)
		for _, m := range customOp.FindAllSubmatch(f.Text, 64) {
			if ns := string(m[1]); !builtinOpNS[ns] {
				customNS[ns] = true
			}
		}
		locs := dangerousCode.FindAllIndex(f.Text, 16)
		if len(locs) == 0 {
			continue
		}
		var hits []string
		line := 0
		for _, l := range locs {
			hits = append(hits, strings.Join(strings.Fields(string(f.Text[l[0]:l[1]])), ""))
			if line == 0 {
				line = 1 + bytes.Count(f.Text[:l[0]], []byte("\n"))
			}
		}
		fd := in.NewFinding(RuleTorchScriptDangerous)
		fd.Location.Member = f.Member
		fd.Location.Line = line
		fd.Evidence = finding.Evidence{
			Text:   fmt.Sprintf("%s references %s", f.Name, strings.Join(dedupe(hits), ", ")),
			Fields: map[string]any{"file": f.Name, "references": dedupe(hits)},
		}
		out = append(out, fd)
	}
	sort.Strings(names)
	fl := in.NewFinding(RuleTorchScriptCode)
	fields := map[string]any{"files": names}
	text := fmt.Sprintf("%d TorchScript source files run on load: %s", len(names), strings.Join(head(names, 8), ", "))
	if len(customNS) > 0 {
		ns := make([]string, 0, len(customNS))
		for n := range customNS {
			ns = append(ns, n)
		}
		sort.Strings(ns)
		fields["custom_op_namespaces"] = ns
		text += "; custom operator namespaces: " + strings.Join(ns, ", ")
	}
	fl.Evidence = finding.Evidence{Text: text, Fields: fields}
	return append(out, fl)
}

func head(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string(nil), s[:n]...), fmt.Sprintf("… (%d more)", len(s)-n))
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
