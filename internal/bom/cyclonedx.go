package bom

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/mlsec/mlsec/internal/bom/modelcard"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/pep440"
)

// CycloneDX output formats.
const (
	CycloneDXJSON = "cyclonedx-json"
	CycloneDXXML  = "cyclonedx-xml"
)

// Property names (CycloneDX property taxonomy: a namespace of our own).
const propPrefix = "mlsec:"

// EncodeCycloneDX writes b as a CycloneDX 1.6 document, JSON or XML.
func EncodeCycloneDX(w io.Writer, b *BOM, format string) error {
	var ff cdx.BOMFileFormat
	switch format {
	case CycloneDXJSON:
		ff = cdx.BOMFileFormatJSON
	case CycloneDXXML:
		ff = cdx.BOMFileFormatXML
	default:
		return fmt.Errorf("unknown CycloneDX format %q", format)
	}
	enc := cdx.NewBOMEncoder(w, ff)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(ToCycloneDX(b), cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("encode CycloneDX: %w", err)
	}
	return nil
}

// Bom-ref prefixes.
func modelRef(name string) string      { return "model:" + name }
func fileRef(p string) string          { return "file:" + p }
func datasetRef(id string) string      { return "dataset:" + id }
func findingRef(n int) string          { return "finding:" + strconv.Itoa(n) }
func prop(name, v string) cdx.Property { return cdx.Property{Name: propPrefix + name, Value: v} }

// ToCycloneDX converts b to a CycloneDX BOM (spec 1.6).
func ToCycloneDX(b *BOM) *cdx.BOM {
	out := cdx.NewBOM()
	out.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	out.XMLNS = "http://cyclonedx.org/schema/bom/1.6"
	out.SpecVersion = cdx.SpecVersion1_6
	out.SerialNumber = "urn:uuid:" + b.Serial
	tool := cdx.Component{Type: cdx.ComponentTypeApplication, Name: b.Tool.Name, Version: b.Tool.Version,
		Group: "mlsec", BOMRef: "tool:mlsec",
		ExternalReferences: &[]cdx.ExternalReference{{Type: cdx.ERTypeVCS, URL: "https://github.com/mlsec/mlsec"}}}
	meta := &cdx.Metadata{
		Tools:      &cdx.ToolsChoice{Components: &[]cdx.Component{tool}},
		Lifecycles: &[]cdx.Lifecycle{{Phase: cdx.LifecyclePhasePostBuild}},
	}
	if !b.Created.IsZero() {
		meta.Timestamp = b.Created.UTC().Format(time.RFC3339)
	}
	root := b.rootComponent()
	meta.Component = &root
	var mprops []cdx.Property
	if b.Scan != nil {
		status := "complete"
		if b.Scan.Inconclusive > 0 {
			status = "inconclusive"
		}
		mprops = append(mprops, prop("scan:status", status), prop("scan:findings", strconv.Itoa(len(b.Findings))))
		for _, g := range b.Scan.Gaps {
			mprops = append(mprops, prop("scan:gap", g))
		}
	}
	for _, n := range b.Notes {
		mprops = append(mprops, prop("note", n))
	}
	if len(mprops) > 0 {
		meta.Properties = &mprops
	}
	out.Metadata = meta

	var comps []cdx.Component
	var deps []cdx.Dependency
	var rootDeps []string
	for _, base := range b.Model.BaseModels {
		c := cdx.Component{Type: cdx.ComponentTypeMachineLearningModel, BOMRef: modelRef(base), Name: base,
			Description: "base model this model was derived from"}
		if u := hubURL("", base); u != "" {
			c.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeWebsite, URL: u}}
		}
		if c.BOMRef != root.BOMRef {
			comps = append(comps, c)
			deps = append(deps, cdx.Dependency{Ref: c.BOMRef})
			rootDeps = append(rootDeps, c.BOMRef)
		}
	}
	for _, d := range b.Datasets {
		c := cdx.Component{Type: cdx.ComponentTypeData, BOMRef: datasetRef(d.ID), Name: d.ID,
			Description: d.Role + " data set named by the model card",
			Properties:  &[]cdx.Property{prop("dataset:role", d.Role)}}
		data := cdx.ComponentData{Type: cdx.ComponentDataTypeDataset, Name: d.ID, Description: d.Role + " data"}
		if d.URL != "" {
			data.Contents = &cdx.ComponentDataContents{URL: d.URL}
			c.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeWebsite, URL: d.URL}}
		}
		c.Data = &[]cdx.ComponentData{data}
		comps = append(comps, c)
		deps = append(deps, cdx.Dependency{Ref: c.BOMRef})
		if d.Role == "training" {
			rootDeps = append(rootDeps, c.BOMRef)
		}
	}
	for _, f := range b.Files {
		c := cdx.Component{Type: cdx.ComponentTypeFile, BOMRef: fileRef(f.Path), Name: f.Path,
			Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}},
			Properties: ptr(fileProps(f))}
		comps = append(comps, c)
		deps = append(deps, cdx.Dependency{Ref: c.BOMRef})
		switch f.Role {
		case RoleWeights, RoleIndex, RoleConfig, RoleTokenizer:
			rootDeps = append(rootDeps, c.BOMRef)
		}
	}
	for _, p := range mergePackages(b.Packages) {
		c := cdx.Component{Type: cdx.ComponentTypeLibrary, BOMRef: p.PURL, Name: p.Name, Version: p.Version,
			PackageURL: p.PURL, Scope: cdx.ScopeRequired}
		var props []cdx.Property
		for _, s := range p.sources {
			props = append(props, prop("dependency:source", s))
		}
		if p.Specifier != "" {
			props = append(props, prop("dependency:specifier", p.Specifier))
		}
		for _, h := range p.Hashes {
			props = append(props, prop("dependency:dist-hash", h))
		}
		c.Properties = ptr(props)
		comps = append(comps, c)
		deps = append(deps, cdx.Dependency{Ref: c.BOMRef})
		rootDeps = append(rootDeps, c.BOMRef)
	}
	sort.Strings(rootDeps)
	deps = append([]cdx.Dependency{{Ref: root.BOMRef, Dependencies: ptr(rootDeps)}}, deps...)
	out.Components = ptr(comps)
	out.Dependencies = ptr(deps)
	out.Vulnerabilities = ptr(b.vulnerabilities())
	var refs []cdx.ExternalReference
	for _, r := range b.Refs {
		er := cdx.ExternalReference{Type: cdx.ExternalReferenceType(r.Type), URL: refURL(r.URL), Comment: r.Comment}
		if r.SHA256 != "" {
			er.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: r.SHA256}}
		}
		refs = append(refs, er)
	}
	out.ExternalReferences = ptr(refs)
	return out
}

// ptr returns nil for an empty slice, so empty arrays are left out.
func ptr[T any](s []T) *[]T {
	if len(s) == 0 {
		return nil
	}
	return &s
}

// refURL makes a relative file path an IRI reference (segments escaped);
// URLs are kept.
func refURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		return s
	}
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func (b *BOM) rootComponent() cdx.Component {
	m := b.Model
	c := cdx.Component{Type: cdx.ComponentTypeMachineLearningModel, BOMRef: modelRef(m.Name), Name: m.Name,
		Description: m.Description}
	if !m.HasWeights && len(m.Metrics) == 0 && m.Task == "" {
		c.Type = cdx.ComponentTypeApplication
		c.BOMRef = "project:" + m.Name
	}
	var lic cdx.Licenses
	for _, l := range m.Licenses {
		if id, ok := SPDXLicense(l); ok {
			lic = append(lic, cdx.LicenseChoice{License: &cdx.License{ID: id}})
			continue
		}
		name := l
		if m.LicenseName != "" && (l == "other" || len(m.Licenses) == 1) {
			name = m.LicenseName
		}
		lc := cdx.License{Name: name}
		if m.LicenseURL != "" {
			lc.URL = refURL(m.LicenseURL)
		}
		lic = append(lic, cdx.LicenseChoice{License: &lc})
	}
	if len(lic) > 0 {
		c.Licenses = &lic
	}
	c.Tags = ptr(append([]string(nil), m.Tags...))
	var props []cdx.Property
	add := func(k, v string) {
		if v != "" {
			props = append(props, prop(k, v))
		}
	}
	if m.Parameters > 0 {
		add("model:parameters", strconv.FormatInt(m.Parameters, 10))
	}
	add("model:formats", strings.Join(m.Formats, ","))
	add("model:dtypes", strings.Join(m.DTypes, ","))
	add("model:quantization", m.Quantization)
	add("model:library", m.Library)
	for _, l := range m.Languages {
		add("model:language", l)
	}
	keys := make([]string, 0, len(m.Sizes))
	for k := range m.Sizes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("config:"+k, strconv.FormatInt(m.Sizes[k], 10))
	}
	c.Properties = ptr(props)
	if c.Type == cdx.ComponentTypeMachineLearningModel {
		c.ModelCard = b.modelCard()
	}
	return c
}

func (b *BOM) modelCard() *cdx.MLModelCard {
	m := b.Model
	mc := &cdx.MLModelCard{BOMRef: "modelcard:" + m.Name}
	mp := &cdx.MLModelParameters{Task: m.Task, ArchitectureFamily: m.ArchitectureFamily, ModelArchitecture: m.Architecture}
	if m.Approach != "" {
		mp.Approach = &cdx.MLModelParametersApproach{Type: cdx.MLModelParametersApproachType(m.Approach)}
	}
	var ds []cdx.MLDatasetChoice
	for _, d := range b.Datasets {
		if d.Role == "training" {
			ds = append(ds, cdx.MLDatasetChoice{Ref: datasetRef(d.ID)})
		}
	}
	mp.Datasets = ptr(ds)
	var ins, outs []cdx.MLInputOutputParameters
	for _, s := range m.Inputs {
		ins = append(ins, cdx.MLInputOutputParameters{Format: s})
	}
	for _, s := range m.Outputs {
		outs = append(outs, cdx.MLInputOutputParameters{Format: s})
	}
	mp.Inputs, mp.Outputs = ptr(ins), ptr(outs)
	mc.ModelParameters = mp
	var pm []cdx.MLPerformanceMetric
	for _, r := range m.Metrics {
		typ := r.MetricType
		if typ == "" {
			typ = r.MetricName
		}
		pm = append(pm, cdx.MLPerformanceMetric{Type: typ, Value: r.Value, Slice: Slice(r)})
	}
	if len(pm) > 0 {
		mc.QuantitativeAnalysis = &cdx.MLQuantitativeAnalysis{PerformanceMetrics: &pm}
	}
	s := m.Sections
	cons := &cdx.MLModelCardConsiderations{
		Users:    ptr(append([]string(nil), s.Users...)),
		UseCases: ptr(append([]string(nil), s.UseCases...)),
	}
	var lim []string
	lim = append(lim, s.Limitations...)
	for _, o := range s.OutOfScope {
		lim = append(lim, "Out of scope: "+o)
	}
	cons.TechnicalLimitations = ptr(lim)
	mitigation := strings.Join(s.Recommendations, " ")
	var eth []cdx.MLModelCardEthicalConsideration
	for _, e := range append(append([]string(nil), s.Risks...), s.Ethics...) {
		eth = append(eth, cdx.MLModelCardEthicalConsideration{Name: e, MitigationStrategy: mitigation})
	}
	cons.EthicalConsiderations = ptr(eth)
	var fa []cdx.MLModelCardFairnessAssessment
	for _, h := range s.Bias {
		fa = append(fa, cdx.MLModelCardFairnessAssessment{Harms: h, MitigationStrategy: mitigation})
	}
	cons.FairnessAssessments = ptr(fa)
	if *cons != (cdx.MLModelCardConsiderations{}) {
		mc.Considerations = cons
	}
	return mc
}

// Slice names what an evaluation result was measured on:
// "task on dataset (config, split)".
func Slice(r modelcard.Result) string {
	ds := r.DatasetName
	if ds == "" {
		ds = r.DatasetType
	}
	var extra []string
	for _, x := range []string{r.Config, r.Split} {
		if x != "" {
			extra = append(extra, x)
		}
	}
	if len(extra) > 0 {
		ds += " (" + strings.Join(extra, ", ") + ")"
	}
	task := r.TaskName
	if task == "" {
		task = r.TaskType
	}
	if task != "" && ds != "" {
		return task + " on " + ds
	}
	return task + ds
}

func fileProps(f File) []cdx.Property {
	props := []cdx.Property{prop("file:role", f.Role), prop("file:size", strconv.FormatInt(f.Size, 10))}
	w := f.Weights
	if w == nil {
		return props
	}
	add := func(k, v string) {
		if v != "" {
			props = append(props, prop("weights:"+k, v))
		}
	}
	add("format", w.Format)
	add("tensors", strconv.Itoa(w.Tensors))
	if w.Parameters > 0 {
		add("parameters", strconv.FormatInt(w.Parameters, 10))
	}
	add("dtypes", strings.Join(w.DTypes, ","))
	add("architecture", w.Architecture)
	add("quantization", w.Quantization)
	add("name", w.Name)
	if w.IRVersion > 0 {
		add("onnx:ir_version", strconv.FormatUint(w.IRVersion, 10))
	}
	add("onnx:producer", strings.TrimSpace(w.Producer+" "+w.ProducerVersion))
	add("onnx:opsets", strings.Join(w.Opsets, ","))
	if w.Members > 0 {
		add("pytorch:members", strconv.Itoa(w.Members))
	}
	add("pytorch:version", w.Version)
	add("error", w.Error)
	return props
}

// mergedPackage is one package with every manifest naming it.
type mergedPackage struct {
	Package
	sources []string
}

func mergePackages(ps []Package) []mergedPackage {
	var out []mergedPackage
	idx := map[string]int{}
	for _, p := range ps {
		if i, ok := idx[p.PURL]; ok {
			out[i].sources = append(out[i].sources, p.Source)
			continue
		}
		idx[p.PURL] = len(out)
		out = append(out, mergedPackage{Package: p, sources: []string{p.Source}})
	}
	return out
}

var severities = map[finding.Severity]cdx.Severity{
	finding.Info: cdx.SeverityInfo, finding.Low: cdx.SeverityLow, finding.Medium: cdx.SeverityMedium,
	finding.High: cdx.SeverityHigh, finding.Critical: cdx.SeverityCritical,
}

// vulnerabilities turns findings into CycloneDX vulnerabilities: the rule
// (or the advisory a dependency finding names) is the ID, mlsec the
// source and the rating's source, CWE references go to cwes and the rest
// (MITRE ATLAS, OWASP ML Top 10, CVE, GHSA) to references.
func (b *BOM) vulnerabilities() []cdx.Vulnerability {
	var out []cdx.Vulnerability
	pkgRef := map[string]string{}
	for _, p := range b.Packages {
		pkgRef[p.Name+"@"+p.Version] = p.PURL
		if _, ok := pkgRef[p.Name]; !ok {
			pkgRef[p.Name] = p.PURL
		}
	}
	for i, f := range b.Findings {
		src := &cdx.Source{Name: "mlsec", URL: "https://github.com/mlsec/mlsec/blob/main/docs/rules.md#" + strings.ToLower(f.RuleID)}
		v := cdx.Vulnerability{BOMRef: findingRef(i + 1), ID: f.RuleID, Source: src,
			Description: f.Title, Detail: detail(f.Finding), Recommendation: f.Remediation}
		v.Ratings = &[]cdx.VulnerabilityRating{{Source: src, Severity: severities[f.Severity], Method: cdx.ScoringMethodOther,
			Justification: "mlsec rule severity"}}
		var cwes []int
		var refs []cdx.VulnerabilityReference
		for _, r := range f.References {
			if r.Kind == finding.RefCWE {
				if n, err := strconv.Atoi(strings.TrimPrefix(r.ID, "CWE-")); err == nil {
					cwes = append(cwes, n)
				}
				continue
			}
			refs = append(refs, cdx.VulnerabilityReference{ID: r.ID, Source: &cdx.Source{Name: refSource(r.Kind), URL: r.URL}})
		}
		v.CWEs, v.References = ptr(cwes), ptr(refs)
		affects := []cdx.Affects{{Ref: fileRef(f.File)}}
		if name, _ := f.Evidence.Fields["package"].(string); name != "" {
			version, _ := f.Evidence.Fields["version"].(string)
			if r, ok := pkgRef[pep440.NormalizeName(name)+"@"+version]; ok {
				affects = append(affects, cdx.Affects{Ref: r})
			} else if r, ok := pkgRef[pep440.NormalizeName(name)]; ok {
				affects = append(affects, cdx.Affects{Ref: r})
			}
		}
		v.Affects = &affects
		props := []cdx.Property{prop("finding:location", f.Where())}
		v.Properties = &props
		out = append(out, v)
	}
	return out
}

func refSource(kind string) string {
	switch kind {
	case finding.RefATLAS:
		return "MITRE ATLAS"
	case finding.RefOWASP:
		return "OWASP Machine Learning Security Top 10"
	case finding.RefCVE:
		return "CVE"
	case finding.RefGHSA:
		return "GitHub Advisory Database"
	}
	return kind
}

func detail(f finding.Finding) string {
	var parts []string
	if f.Description != "" {
		parts = append(parts, f.Description)
	}
	if f.Evidence.Text != "" {
		parts = append(parts, "Evidence: "+f.Evidence.Text)
	}
	parts = append(parts, "Location: "+f.Where())
	return strings.Join(parts, "\n")
}
