// Package spdx3 writes a bom.BOM as an SPDX 3.0.1 document in JSON-LD
// (the spdx-context.jsonld serialisation), with the Core, Software,
// Security, SimpleLicensing, AI and Dataset profiles: the model as an
// ai_AIPackage, data sets as dataset_DatasetPackage, files as software_File
// with SHA-256 hashes, Python packages as software_Package with package
// URLs, scan findings as security_Vulnerability, tied together by
// Relationships (contains, trainedOn, testedOn, descendantOf, dependsOn,
// hasDeclaredLicense, hasAssociatedVulnerability, hasDocumentation).
package spdx3

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/bom"
	"github.com/mlsec/mlsec/internal/bom/weights"
	"github.com/mlsec/mlsec/internal/finding"
)

// Format is the CLI name of this output.
const Format = "spdx3-json"

// Context is the SPDX 3.0.1 JSON-LD context.
const Context = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"

const creationInfo = "_:creationinfo"

type obj = map[string]any

type doc struct {
	ns    string
	graph []obj
	all   []string
	rels  int
}

func (d *doc) id(kind, local string) string {
	return d.ns + kind + "-" + escape(local)
}

// escape keeps an IRI fragment readable and valid.
func escape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "%2F", "/")
}

func (d *doc) add(o obj) string {
	o["creationInfo"] = creationInfo
	d.graph = append(d.graph, o)
	id := o["spdxId"].(string)
	d.all = append(d.all, id)
	return id
}

func (d *doc) rel(from, typ string, to ...string) {
	if len(to) == 0 {
		return
	}
	sort.Strings(to)
	d.rels++
	d.add(obj{"type": "Relationship", "spdxId": d.ns + "Relationship-" + strconv.Itoa(d.rels),
		"from": from, "relationshipType": typ, "to": to})
}

// Encode writes b as SPDX 3.0.1 JSON-LD.
func Encode(w io.Writer, b *bom.BOM) error {
	d := &doc{ns: "urn:uuid:" + b.Serial + "#"}
	created := "1970-01-01T00:00:00Z"
	if !b.Created.IsZero() {
		created = b.Created.UTC().Format(time.RFC3339)
	}
	agent := d.ns + "SoftwareAgent-mlsec"
	tool := d.ns + "Tool-mlsec"
	ci := obj{"type": "CreationInfo", "@id": creationInfo, "specVersion": "3.0.1", "created": created,
		"createdBy": []string{agent}, "createdUsing": []string{tool}}
	d.graph = append(d.graph, ci)
	d.add(obj{"type": "SoftwareAgent", "spdxId": agent, "name": "mlsec"})
	d.add(obj{"type": "Tool", "spdxId": tool, "name": strings.TrimSpace(b.Tool.Name + " " + b.Tool.Version)})

	m := b.Model
	root := d.model(b)
	var contained []string
	var trained, tested, descends, pkgs []string
	for _, f := range b.Files {
		fo := obj{"type": "software_File", "spdxId": d.id("File", f.Path), "name": f.Path,
			"software_fileKind":       "file",
			"verifiedUsing":           []obj{{"type": "Hash", "algorithm": "sha256", "hashValue": f.SHA256}},
			"software_primaryPurpose": purpose(f.Role)}
		if f.Weights != nil {
			fo["comment"] = weightsComment(f.Weights)
		}
		contained = append(contained, d.add(fo))
	}
	for _, ds := range b.Datasets {
		o := obj{"type": "dataset_DatasetPackage", "spdxId": d.id("Dataset", ds.ID), "name": ds.ID,
			"software_primaryPurpose": "data", "dataset_datasetType": []string{datasetType(m.Task, m.Inputs)},
			"comment": ds.Role + " data set named by the model card"}
		if ds.URL != "" {
			o["software_downloadLocation"] = ds.URL
		}
		id := d.add(o)
		if ds.Role == "training" {
			trained = append(trained, id)
		} else {
			tested = append(tested, id)
		}
	}
	for _, base := range m.BaseModels {
		o := obj{"type": "ai_AIPackage", "spdxId": d.id("Model", base), "name": base,
			"software_primaryPurpose": "model", "comment": "base model"}
		if u := hubURL(base); u != "" {
			o["software_downloadLocation"] = u
		}
		descends = append(descends, d.add(o))
	}
	seen := map[string]bool{}
	for _, p := range b.Packages {
		if seen[p.PURL] {
			continue
		}
		seen[p.PURL] = true
		o := obj{"type": "software_Package", "spdxId": d.id("Package", p.PURL), "name": p.Name,
			"software_packageUrl": p.PURL, "software_primaryPurpose": "library",
			"externalIdentifier": []obj{{"type": "ExternalIdentifier", "externalIdentifierType": "packageUrl", "identifier": p.PURL}}}
		if p.Version != "" {
			o["software_packageVersion"] = p.Version
		}
		if p.Specifier != "" {
			o["comment"] = "declared as " + p.Name + p.Specifier + " in " + p.Source
		}
		pkgs = append(pkgs, d.add(o))
	}
	d.rel(root, "contains", contained...)
	d.rel(root, "trainedOn", trained...)
	d.rel(root, "testedOn", tested...)
	d.rel(root, "descendantOf", descends...)
	d.rel(root, "dependsOn", pkgs...)
	for _, f := range b.Files {
		switch f.Role {
		case bom.RoleCard:
			d.rel(root, "hasDocumentation", d.id("File", f.Path))
		case bom.RoleManifest:
			d.rel(root, "hasDependencyManifest", d.id("File", f.Path))
		}
	}
	if len(m.Licenses) > 0 {
		lic := d.add(obj{"type": "simplelicensing_LicenseExpression", "spdxId": d.ns + "License-declared",
			"simplelicensing_licenseExpression": licenseExpression(m.Licenses)})
		d.rel(root, "hasDeclaredLicense", lic)
	}
	d.vulnerabilities(b)

	docID := d.ns + "SpdxDocument"
	sbomID := d.ns + "Sbom"
	elems := append([]string(nil), d.all...)
	sbom := obj{"type": "software_Sbom", "spdxId": sbomID, "software_sbomType": []string{"analyzed"},
		"rootElement": []string{root}, "element": elems, "creationInfo": creationInfo,
		"profileConformance": profiles(b)}
	document := obj{"type": "SpdxDocument", "spdxId": docID, "name": "ML-BOM of " + m.Name,
		"rootElement": []string{sbomID}, "element": append(elems, sbomID), "creationInfo": creationInfo,
		"profileConformance": profiles(b)}
	var refs []obj
	for _, r := range b.Refs {
		refs = append(refs, obj{"type": "ExternalRef", "externalRefType": refType(r.Type), "locator": []string{r.URL},
			"comment": r.Comment})
	}
	if len(refs) > 0 {
		document["externalRef"] = refs
	}
	d.graph = append(d.graph, sbom, document)
	out := obj{"@context": Context, "@graph": d.graph}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode SPDX 3: %w", err)
	}
	return nil
}

func profiles(b *bom.BOM) []string {
	p := []string{"core", "software", "simpleLicensing"}
	if b.Model.HasWeights || b.Model.Task != "" {
		p = append(p, "ai")
	}
	if len(b.Datasets) > 0 {
		p = append(p, "dataset")
	}
	if len(b.Findings) > 0 {
		p = append(p, "security")
	}
	return p
}

// model adds the model (or the project) and returns its ID.
func (d *doc) model(b *bom.BOM) string {
	m := b.Model
	if !m.HasWeights && m.Task == "" && len(m.Metrics) == 0 {
		return d.add(obj{"type": "software_Package", "spdxId": d.id("Project", m.Name), "name": m.Name,
			"software_primaryPurpose": "application"})
	}
	o := obj{"type": "ai_AIPackage", "spdxId": d.id("Model", m.Name), "name": m.Name,
		"software_primaryPurpose": "model"}
	if m.Description != "" {
		o["description"] = m.Description
	}
	if m.Task != "" {
		o["ai_domain"] = []string{m.Task}
	}
	var types []string
	for _, t := range []string{m.Approach, m.ArchitectureFamily, m.Architecture} {
		if t != "" {
			types = append(types, t)
		}
	}
	if len(types) > 0 {
		o["ai_typeOfModel"] = types
	}
	s := m.Sections
	if app := strings.Join(append(append([]string(nil), s.UseCases...), prefixed("Intended users: ", s.Users)...), "\n"); app != "" {
		o["ai_informationAboutApplication"] = app
	}
	lim := append(append([]string(nil), s.Limitations...), prefixed("Out of scope: ", s.OutOfScope)...)
	lim = append(lim, prefixed("Bias: ", s.Bias)...)
	lim = append(lim, prefixed("Risk: ", append(append([]string(nil), s.Risks...), s.Ethics...))...)
	if len(lim) > 0 {
		o["ai_limitation"] = strings.Join(lim, "\n")
	}
	if len(s.TrainingData) > 0 {
		o["ai_informationAboutTraining"] = strings.Join(s.TrainingData, "\n")
	}
	var metrics []obj
	for _, r := range m.Metrics {
		key := r.MetricType
		if key == "" {
			key = r.MetricName
		}
		metrics = append(metrics, obj{"type": "DictionaryEntry", "key": key + " (" + bom.Slice(r) + ")", "value": r.Value})
	}
	if len(metrics) > 0 {
		o["ai_metric"] = metrics
	}
	var hp []obj
	keys := make([]string, 0, len(m.Sizes))
	for k := range m.Sizes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hp = append(hp, obj{"type": "DictionaryEntry", "key": k, "value": strconv.FormatInt(m.Sizes[k], 10)})
	}
	if m.Parameters > 0 {
		hp = append(hp, obj{"type": "DictionaryEntry", "key": "parameters", "value": strconv.FormatInt(m.Parameters, 10)})
	}
	if m.Quantization != "" {
		hp = append(hp, obj{"type": "DictionaryEntry", "key": "quantization", "value": m.Quantization})
	}
	if len(m.DTypes) > 0 {
		hp = append(hp, obj{"type": "DictionaryEntry", "key": "dtypes", "value": strings.Join(m.DTypes, ",")})
	}
	if len(hp) > 0 {
		o["ai_hyperparameter"] = hp
	}
	return d.add(o)
}

func prefixed(p string, s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = p + x
	}
	return out
}

func (d *doc) vulnerabilities(b *bom.BOM) {
	for i, f := range b.Findings {
		o := obj{"type": "security_Vulnerability", "spdxId": d.ns + "Vulnerability-" + strconv.Itoa(i+1),
			"name": f.RuleID, "summary": f.Title,
			"description": fmt.Sprintf("%s severity: %s. %s Location: %s", f.RuleID, f.Severity, f.Evidence.Text, f.Where())}
		var ids []obj
		var refs []obj
		for _, r := range f.References {
			switch r.Kind {
			case finding.RefCVE:
				ids = append(ids, obj{"type": "ExternalIdentifier", "externalIdentifierType": "cve", "identifier": r.ID})
			case finding.RefCWE:
				refs = append(refs, obj{"type": "ExternalRef", "externalRefType": "cwe", "locator": []string{r.URL}, "comment": r.ID})
			default:
				ids = append(ids, obj{"type": "ExternalIdentifier", "externalIdentifierType": "securityOther", "identifier": r.ID,
					"comment": r.Kind})
			}
		}
		if len(ids) > 0 {
			o["externalIdentifier"] = ids
		}
		if len(refs) > 0 {
			o["externalRef"] = refs
		}
		v := d.add(o)
		d.rel(d.id("File", f.File), "hasAssociatedVulnerability", v)
	}
}

func refType(t string) string {
	switch t {
	case "model-card":
		return "documentation"
	case "digital-signature":
		return "secureSoftwareAttestation"
	}
	return "other"
}

func purpose(role string) string {
	switch role {
	case bom.RoleWeights:
		return "model"
	case bom.RoleConfig, bom.RoleTokenizer, bom.RoleIndex:
		return "configuration"
	case bom.RoleCard:
		return "documentation"
	case bom.RoleManifest:
		return "manifest"
	case bom.RoleSignature:
		return "evidence"
	}
	return "file"
}

func datasetType(task string, inputs []string) string {
	in := ""
	if len(inputs) > 0 {
		in = inputs[0]
	}
	switch {
	case in == "image":
		return "image"
	case in == "audio":
		return "audio"
	case in == "tabular" || strings.HasPrefix(task, "tabular"):
		return "structured"
	case in == "string":
		return "text"
	}
	return "noAssertion"
}

func weightsComment(w *weights.Info) string { return w.Summary() }

func licenseExpression(ls []string) string {
	var parts []string
	for _, l := range ls {
		if id, ok := bom.SPDXLicense(l); ok {
			parts = append(parts, id)
		} else {
			parts = append(parts, "LicenseRef-"+licenseRef(l))
		}
	}
	return strings.Join(parts, " OR ")
}

func licenseRef(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func hubURL(id string) string {
	if id == "" || strings.Count(id, "/") > 1 || strings.ContainsAny(id, " \t\"<>\\") {
		return ""
	}
	return "https://huggingface.co/" + id
}
