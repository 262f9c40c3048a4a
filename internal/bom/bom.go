// Package bom assembles an ML bill of materials for a model directory, a
// single model file or an ML project: the model with what its card,
// config.json and weight headers declare, the datasets it was trained and
// evaluated on, every file with its SHA-256, the Python packages the
// project's lockfiles pin, scan findings, and references to the signature
// bundle and provenance ledger. Build gathers these into a BOM value; the
// CycloneDX 1.6 encoder is in this package and the SPDX 3.0 one in
// package bom/spdx3.
//
// The package does not scan: findings are an input (Options.Findings),
// produced by the scan engine when the caller wants them. Weights are read
// through their headers only; file contents are streamed once, into
// SHA-256, by a pool of workers.
package bom

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mlsec/mlsec/internal/bom/modelcard"
	"github.com/mlsec/mlsec/internal/bom/weights"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/deps"
)

// Limits.
const (
	// MaxFiles bounds the files of one BOM.
	MaxFiles = 100_000
	// headSize is how much of each file is read to detect its format.
	headSize = scan.HeadSize
	// hashBuffer is the read size when streaming into SHA-256.
	hashBuffer = 1 << 20
)

// File roles.
const (
	RoleWeights   = "weights"
	RoleIndex     = "weights-index"
	RoleConfig    = "config"
	RoleTokenizer = "tokenizer"
	RoleCard      = "model-card"
	RoleManifest  = "dependency-manifest"
	RoleSignature = "signature"
	RoleOther     = "other"
)

// ErrNoInput is returned when the path holds no files.
var ErrNoInput = errors.New("nothing to describe")

// BOM is the format-neutral bill of materials.
type BOM struct {
	Tool finding.Tool `json:"tool"`
	// Created is when the BOM was made; zero in reproducible mode without
	// SOURCE_DATE_EPOCH.
	Created time.Time `json:"-"`
	// Serial is a UUID: random, or derived from the content when
	// reproducible.
	Serial   string     `json:"-"`
	Model    Model      `json:"model"`
	Files    []File     `json:"files"`
	Datasets []Dataset  `json:"datasets,omitempty"`
	Packages []Package  `json:"packages,omitempty"`
	Findings []Finding  `json:"findings,omitempty"`
	Scan     *ScanState `json:"scan,omitempty"`
	Refs     []Ref      `json:"refs,omitempty"`
	// Notes are things that could not be read (a malformed card, a
	// weights header that did not parse).
	Notes []string `json:"notes,omitempty"`
}

// Model is the machine-learning model the BOM describes.
type Model struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Licenses    []string `json:"licenses,omitempty"`
	LicenseName string   `json:"license_name,omitempty"`
	LicenseURL  string   `json:"license_url,omitempty"`
	BaseModels  []string `json:"base_models,omitempty"`
	Task        string   `json:"task,omitempty"`
	Approach    string   `json:"approach,omitempty"`
	// ArchitectureFamily is config model_type or GGUF architecture;
	// Architecture is the config's architectures[0].
	ArchitectureFamily string             `json:"architecture_family,omitempty"`
	Architecture       string             `json:"architecture,omitempty"`
	Library            string             `json:"library,omitempty"`
	Languages          []string           `json:"languages,omitempty"`
	Tags               []string           `json:"tags,omitempty"`
	Inputs             []string           `json:"inputs,omitempty"`
	Outputs            []string           `json:"outputs,omitempty"`
	Parameters         int64              `json:"parameters,omitempty"`
	Formats            []string           `json:"formats,omitempty"`
	DTypes             []string           `json:"dtypes,omitempty"`
	Quantization       string             `json:"quantization,omitempty"`
	Sizes              map[string]int64   `json:"sizes,omitempty"`
	Metrics            []modelcard.Result `json:"metrics,omitempty"`
	Sections           modelcard.Sections `json:"sections"`
	// HasWeights is false for a project without model weights.
	HasWeights bool `json:"has_weights"`
}

// File is one file of the input.
type File struct {
	Path    string        `json:"path"` // slash-separated, relative to the input
	Size    int64         `json:"size"`
	SHA256  string        `json:"sha256"`
	Role    string        `json:"role"`
	Weights *weights.Info `json:"weights,omitempty"`
}

// Dataset is a data set the model was trained or evaluated on.
type Dataset struct {
	ID   string `json:"id"`
	Role string `json:"role"` // "training" or "evaluation"
	URL  string `json:"url,omitempty"`
}

// Package is a dependency pinned or declared by a manifest.
type Package struct {
	Name      string   `json:"name"`
	Version   string   `json:"version,omitempty"`
	Ecosystem string   `json:"ecosystem"` // "pypi" or "conda"
	PURL      string   `json:"purl"`
	Hashes    []string `json:"hashes,omitempty"`
	Source    string   `json:"source"` // manifest path
	Specifier string   `json:"specifier,omitempty"`
}

// Finding is a scan finding with its artifact path relative to the input.
type Finding struct {
	finding.Finding
	File string `json:"file"`
}

// ScanState summarises the scan's coverage.
type ScanState struct {
	Complete     int      `json:"complete"`
	Inconclusive int      `json:"inconclusive"`
	Gaps         []string `json:"gaps,omitempty"`
}

// Ref is an external reference: the signature bundle, the ledger.
type Ref struct {
	Type    string `json:"type"` // CycloneDX externalReference type
	URL     string `json:"url"`
	Comment string `json:"comment,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// Options configure Build.
type Options struct {
	// Workers hash files in parallel (default GOMAXPROCS).
	Workers int
	// Findings, when set, is the scan report over the same path.
	Findings *finding.Report
	// Reproducible derives the serial number from the content and takes
	// the time from SOURCE_DATE_EPOCH (else leaves it out).
	Reproducible bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Tool names the producer.
	Tool finding.Tool
	// LedgerRefs are provenance ledger locations (URLs or paths).
	LedgerRefs []string
	Logger     *slog.Logger
}

// Build describes the model directory, model file or project at root.
func Build(ctx context.Context, root string, opts Options) (*BOM, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("bom: %w", err)
	}
	base := root
	var rels []string
	if st.IsDir() {
		rels, err = listFiles(ctx, root)
		if err != nil {
			return nil, err
		}
	} else {
		base = filepath.Dir(root)
		rels = []string{filepath.Base(root)}
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("bom: %s: %w", root, ErrNoInput)
	}
	b := &BOM{Tool: opts.Tool}
	b.Files, err = readFiles(ctx, base, rels, opts.Workers, log)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(filepath.Clean(root))
	if !st.IsDir() {
		name = strings.TrimSuffix(name, filepath.Ext(name))
	}
	if abs, err := filepath.Abs(root); err == nil && st.IsDir() {
		name = filepath.Base(abs)
	}
	b.Model.Name = name
	b.describe(base)
	b.readPackages(base)
	b.addFindings(base, opts.Findings)
	b.addRefs(base, opts.LedgerRefs)
	b.finish(opts)
	return b, nil
}

// listFiles walks root; .git is skipped, symbolic links to regular files
// are followed (the Hugging Face cache links snapshots to blobs), links to
// directories are not.
func listFiles(ctx context.Context, root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || (d.Name() == ".cache" && p != root) {
				return filepath.SkipDir
			}
			return nil
		}
		mode := d.Type()
		if mode&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() {
				return nil
			}
		} else if !mode.IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if len(out) >= MaxFiles {
			return fmt.Errorf("bom: more than %d files under %s", MaxFiles, root)
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bom: walk %s: %w", root, err)
	}
	sort.Strings(out)
	return out, nil
}

// readFiles detects, reads the header of and hashes every file, in
// parallel. Results keep the order of rels.
func readFiles(ctx context.Context, base string, rels []string, workers int, log *slog.Logger) ([]File, error) {
	out := make([]File, len(rels))
	errs := make([]error, len(rels))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(rels)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, hashBuffer)
			for i := range jobs {
				out[i], errs[i] = readFile(ctx, base, rels[i], buf)
				if errs[i] == nil {
					log.Debug("bom: file", "path", rels[i], "role", out[i].Role, "size", out[i].Size)
				}
			}
		}()
	}
	for i := range rels {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// HashFile streams one file into SHA-256 with the given buffer.
func HashFile(ctx context.Context, p string, buf []byte) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, buf)
	if err != nil {
		return "", n, fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func readFile(ctx context.Context, base, rel string, buf []byte) (File, error) {
	p := filepath.Join(base, filepath.FromSlash(rel))
	fl := File{Path: rel}
	f, err := os.Open(p)
	if err != nil {
		return fl, fmt.Errorf("bom: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fl, fmt.Errorf("bom: %w", err)
	}
	fl.Size = st.Size()
	head := make([]byte, min(int64(headSize), fl.Size))
	if _, err := io.ReadFull(f, head); err != nil {
		f.Close()
		return fl, fmt.Errorf("bom: read %s: %w", rel, err)
	}
	name := path.Base(rel)
	fl.Role = roleOf(name, head)
	if format := weights.Detect(name, head, fl.Size, f); format != "" {
		fl.Role = RoleWeights
		info, err := weights.Read(ctx, format, f, fl.Size)
		if info == nil {
			info = &weights.Info{Format: format}
		}
		if err != nil {
			info.Error = err.Error()
		}
		fl.Weights = info
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return fl, fmt.Errorf("bom: %w", err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, buf)
	f.Close()
	if err != nil {
		return fl, fmt.Errorf("bom: hash %s: %w", rel, err)
	}
	fl.Size = n
	fl.SHA256 = hex.EncodeToString(h.Sum(nil))
	return fl, nil
}

var tokenizerFiles = map[string]bool{
	"tokenizer.json": true, "tokenizer_config.json": true, "special_tokens_map.json": true,
	"vocab.txt": true, "vocab.json": true, "merges.txt": true, "tokenizer.model": true,
	"spiece.model": true, "sentencepiece.bpe.model": true, "added_tokens.json": true,
	"preprocessor_config.json": true,
}

// roleOf classifies a file that is not weights by name (and, for
// signature bundles, content).
func roleOf(name string, head []byte) string {
	l := strings.ToLower(name)
	switch {
	case l == "readme.md":
		return RoleCard
	case l == "config.json" || l == "generation_config.json" || l == "adapter_config.json":
		return RoleConfig
	case tokenizerFiles[l]:
		return RoleTokenizer
	case strings.HasSuffix(l, ".index.json") && (strings.Contains(l, "safetensors") || strings.Contains(l, ".bin")):
		return RoleIndex
	case deps.KindOf(name) != "":
		return RoleManifest
	case isSignature(l, head):
		return RoleSignature
	}
	return RoleOther
}

// isSignature recognises an OpenSSF model signing bundle (a Sigstore
// bundle, written as model.sig by default).
func isSignature(name string, head []byte) bool {
	if !strings.HasSuffix(name, ".sig") && !strings.HasSuffix(name, ".sigstore.json") && !strings.HasSuffix(name, ".sigstore") {
		return false
	}
	return strings.Contains(string(head), "application/vnd.dev.sigstore.bundle")
}

// describe fills the model from the card, the config and the weights.
func (b *BOM) describe(base string) {
	m := &b.Model
	dt, formats := map[string]bool{}, map[string]bool{}
	// The same weights often ship in several formats (model.safetensors
	// beside pytorch_model.bin): the model's parameter count is the
	// largest per-format total, not the sum.
	perFormat := map[string]int64{}
	for _, f := range b.Files {
		w := f.Weights
		if w == nil {
			continue
		}
		m.HasWeights = true
		formats[w.Format] = true
		for _, d := range w.DTypes {
			dt[dtypeName(d)] = true
		}
		perFormat[w.Format] += w.Parameters
		m.Parameters = max(m.Parameters, perFormat[w.Format])
		if w.Architecture != "" && m.ArchitectureFamily == "" {
			m.ArchitectureFamily = w.Architecture
		}
		if w.Quantization != "" && m.Quantization == "" {
			m.Quantization = w.Quantization
		}
		if w.Format == weights.ONNX {
			m.Inputs = append(m.Inputs, w.Inputs...)
			m.Outputs = append(m.Outputs, w.Outputs...)
		}
		if w.Error != "" {
			b.Notes = append(b.Notes, fmt.Sprintf("%s: %s", f.Path, w.Error))
		}
	}
	m.DTypes, m.Formats = sortedKeys(dt), sortedKeys(formats)
	if cfg := b.readConfig(base); cfg != nil {
		if cfg.ModelType != "" {
			m.ArchitectureFamily = cfg.ModelType
		}
		if len(cfg.Architectures) > 0 {
			m.Architecture = cfg.Architectures[0]
		}
		if len(cfg.Sizes) > 0 {
			m.Sizes = cfg.Sizes
		}
	}
	card := b.readCard(base)
	if card == nil {
		return
	}
	if card.ModelName != "" {
		m.Name = card.ModelName
	}
	if card.License != "" {
		m.Licenses = strings.Split(card.License, " OR ")
	}
	m.LicenseName, m.LicenseURL = card.LicenseName, card.LicenseLink
	m.BaseModels = card.BaseModels
	m.Task = card.PipelineTag
	m.Approach = approachOf(card.PipelineTag)
	m.Library = card.LibraryName
	m.Languages = card.Languages
	m.Tags = card.Tags
	m.Metrics = card.Results
	m.Sections = card.Sections
	m.Description = card.Sections.Summary
	if in, out := ioFormats(card.PipelineTag); in != "" && len(m.Inputs) == 0 {
		m.Inputs, m.Outputs = []string{in}, []string{out}
	}
	for _, d := range card.Datasets {
		b.Datasets = append(b.Datasets, Dataset{ID: d, Role: "training", URL: hubURL("datasets/", d)})
	}
	seen := map[string]bool{}
	for _, d := range card.Datasets {
		seen[d] = true
	}
	for _, d := range card.EvalDatasets() {
		if !seen[d] {
			b.Datasets = append(b.Datasets, Dataset{ID: d, Role: "evaluation", URL: hubURL("datasets/", d)})
		}
	}
}

// dtypeNames maps safetensors and GGUF element types to PyTorch-style
// names; quantised GGUF types keep theirs.
var dtypeNames = map[string]string{
	"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
	"I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16",
	"U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}

func dtypeName(d string) string {
	if n, ok := dtypeNames[d]; ok {
		return n
	}
	return d
}

// hubURL links a Hub id ("org/name" or "name") to its page; other
// strings (free-text names) get no URL.
func hubURL(kind, id string) string {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./", r)) {
			return ""
		}
	}
	if strings.Count(id, "/") > 1 || strings.Contains(id, "..") || id == "" {
		return ""
	}
	return "https://huggingface.co/" + kind + id
}

func (b *BOM) readConfig(base string) *modelcard.Config {
	for _, f := range b.Files {
		if f.Path != "config.json" {
			continue
		}
		data, err := readSmall(base, f.Path, modelcard.MaxConfigSize)
		if err == nil {
			var cfg *modelcard.Config
			if cfg, err = modelcard.ParseConfig(data); err == nil {
				return cfg
			}
		}
		b.Notes = append(b.Notes, fmt.Sprintf("%s: %v", f.Path, err))
	}
	return nil
}

func (b *BOM) readCard(base string) *modelcard.Card {
	for _, f := range b.Files {
		if f.Role != RoleCard || strings.Contains(f.Path, "/") {
			continue
		}
		data, err := readSmall(base, f.Path, modelcard.MaxCardSize)
		if err == nil {
			var c *modelcard.Card
			if c, err = modelcard.ParseCard(data); err == nil {
				return c
			}
		}
		b.Notes = append(b.Notes, fmt.Sprintf("%s: %v", f.Path, err))
	}
	return nil
}

func readSmall(base, rel string, limit int64) ([]byte, error) {
	f, err := os.Open(filepath.Join(base, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// approachOf guesses the learning approach from the Hub pipeline tag.
func approachOf(task string) string {
	switch task {
	case "":
		return ""
	case "text-generation", "fill-mask", "feature-extraction", "sentence-similarity", "text2text-generation":
		return "self-supervised"
	case "reinforcement-learning", "robotics":
		return "reinforcement-learning"
	case "unconditional-image-generation":
		return "unsupervised"
	}
	return "supervised"
}

// ioFormats names the input and output kinds of a pipeline tag.
func ioFormats(task string) (string, string) {
	switch {
	case task == "":
		return "", ""
	case strings.HasPrefix(task, "text-to-"):
		return "string", strings.TrimPrefix(task, "text-to-")
	case strings.HasPrefix(task, "image-to-"):
		return "image", strings.TrimPrefix(task, "image-to-")
	case strings.HasPrefix(task, "image-") || strings.HasPrefix(task, "object-") || task == "depth-estimation" || strings.HasPrefix(task, "zero-shot-image"):
		return "image", "string"
	case strings.HasPrefix(task, "audio-") || task == "automatic-speech-recognition":
		return "audio", "string"
	case strings.HasPrefix(task, "tabular-"):
		return "tabular", "string"
	}
	return "string", "string"
}

// readPackages parses the dependency manifests: lockfiles when there are
// any (they pin exact versions), else the other manifests.
func (b *BOM) readPackages(base string) {
	var locks, others []File
	for _, f := range b.Files {
		if f.Role != RoleManifest {
			continue
		}
		switch deps.KindOf(path.Base(f.Path)) {
		case deps.KindPoetryLock, deps.KindPipfileLock, deps.KindUVLock, deps.KindPDMLock:
			locks = append(locks, f)
		default:
			others = append(others, f)
		}
	}
	use := locks
	if len(use) == 0 {
		use = others
	}
	seen := map[string]bool{}
	for _, f := range use {
		data, err := readSmall(base, f.Path, deps.MaxManifestSize)
		var m *deps.Manifest
		if err == nil {
			name := path.Base(f.Path)
			m, err = deps.Parse(deps.KindOf(name), name, data, nil)
		}
		if err != nil {
			b.Notes = append(b.Notes, fmt.Sprintf("%s: %v", f.Path, err))
			continue
		}
		for _, p := range m.Packages {
			if p.Constraint {
				continue
			}
			pk := Package{Name: p.Normalized, Version: p.Version, Ecosystem: "pypi", Hashes: p.Hashes, Source: f.Path}
			if pk.Name == "" {
				pk.Name = strings.ToLower(p.Name)
			}
			if p.Conda {
				pk.Ecosystem = "conda"
			}
			if !p.Pinned() {
				pk.Specifier = p.Specifier.String()
			}
			pk.PURL = purl(pk)
			key := pk.PURL + "\x00" + pk.Source
			if pk.Name == "" || seen[key] {
				continue
			}
			seen[key] = true
			b.Packages = append(b.Packages, pk)
		}
	}
	sort.SliceStable(b.Packages, func(i, j int) bool {
		if b.Packages[i].PURL != b.Packages[j].PURL {
			return b.Packages[i].PURL < b.Packages[j].PURL
		}
		return b.Packages[i].Source < b.Packages[j].Source
	})
}

// purl builds a package URL (purl-spec PyPI type: lower case, "_" as "-").
func purl(p Package) string {
	name := p.Name
	if p.Ecosystem == "pypi" {
		name = strings.ReplaceAll(strings.ToLower(name), "_", "-")
	}
	s := "pkg:" + p.Ecosystem + "/" + purlEscape(name)
	if p.Version != "" {
		s += "@" + purlEscape(p.Version)
	}
	return s
}

func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// addFindings keeps the findings about files of the input.
func (b *BOM) addFindings(base string, rep *finding.Report) {
	if rep == nil {
		return
	}
	b.Scan = &ScanState{}
	absBase, _ := filepath.Abs(base)
	rel := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			if r, err := filepath.Rel(absBase, abs); err == nil && !strings.HasPrefix(r, "..") {
				return filepath.ToSlash(r)
			}
		}
		return filepath.ToSlash(p)
	}
	for _, a := range rep.Artifacts {
		switch a.Status {
		case finding.StatusComplete:
			b.Scan.Complete++
		case finding.StatusInconclusive:
			b.Scan.Inconclusive++
		}
		file := rel(a.Artifact.Path)
		for _, g := range a.Gaps {
			b.Scan.Gaps = append(b.Scan.Gaps, file+": "+g)
		}
		for _, f := range a.Findings {
			f.Artifact.Path = file
			b.Findings = append(b.Findings, Finding{Finding: f, File: file})
		}
	}
	sort.SliceStable(b.Findings, func(i, j int) bool {
		x, y := b.Findings[i], b.Findings[j]
		if x.File != y.File {
			return x.File < y.File
		}
		if x.Severity != y.Severity {
			return x.Severity > y.Severity
		}
		if x.RuleID != y.RuleID {
			return x.RuleID < y.RuleID
		}
		return x.Where() < y.Where()
	})
	sort.Strings(b.Scan.Gaps)
}

// addRefs references the signature bundles found and the ledger.
func (b *BOM) addRefs(base string, ledgers []string) {
	for _, f := range b.Files {
		switch f.Role {
		case RoleSignature:
			b.Refs = append(b.Refs, Ref{Type: "digital-signature", URL: f.Path, SHA256: f.SHA256,
				Comment: "OpenSSF model signing bundle (Sigstore bundle over the model's files); verify with 'mlsec verify'"})
		case RoleCard:
			if !strings.Contains(f.Path, "/") {
				b.Refs = append(b.Refs, Ref{Type: "model-card", URL: f.Path, SHA256: f.SHA256, Comment: "Hugging Face model card"})
			}
		}
	}
	for _, l := range ledgers {
		b.Refs = append(b.Refs, Ref{Type: "log", URL: l, Comment: "mlsec provenance ledger (append-only Merkle log); check with 'mlsec ledger verify'"})
	}
	_ = base
}

// finish sets the serial and time.
func (b *BOM) finish(opts Options) {
	if !opts.Reproducible {
		b.Created = opts.Now().UTC().Truncate(time.Second)
		b.Serial = randomUUID()
		return
	}
	if t, ok := sourceDateEpoch(); ok {
		b.Created = t
	}
	data, _ := json.Marshal(b)
	sum := sha256.Sum256(data)
	b.Serial = uuidFrom(sum[:16], 5)
}

func sourceDateEpoch() (time.Time, bool) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, false
	}
	var sec int64
	if _, err := fmt.Sscan(v, &sec); err != nil || sec < 0 {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

func randomUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	return uuidFrom(u[:], 4)
}

func uuidFrom(b []byte, version byte) string {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | version<<4
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
