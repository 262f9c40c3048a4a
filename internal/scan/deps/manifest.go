// Package deps checks the Python dependencies an ML project declares:
// requirements files (with -r/-c includes, hashes, markers and index
// options), pyproject.toml (PEP 621, PEP 735 groups, Poetry, PDM and uv
// sections), the lockfiles of Poetry, Pipenv, uv and PDM, and conda
// environment files. It reports known vulnerabilities and malicious
// packages from the offline OSV database (package vulndb), unpinned
// requirements, missing hashes, typosquats of popular ML packages and
// dependency-confusion risks. Files are parsed, never executed.
package deps

import (
	"errors"
	"fmt"

	"github.com/mlsec/mlsec/internal/pep440"
)

// Kinds of manifest.
const (
	KindRequirements = "requirements"
	KindPyproject    = "pyproject"
	KindPoetryLock   = "poetry-lock"
	KindPipfileLock  = "pipfile-lock"
	KindUVLock       = "uv-lock"
	KindPDMLock      = "pdm-lock"
	KindConda        = "conda-env"
)

// Limits on manifests.
const (
	// MaxManifestSize bounds one manifest or lockfile.
	MaxManifestSize = 16 << 20
	// MaxPackages bounds the packages of one manifest (with includes).
	MaxPackages = 50_000
	// MaxIncludeDepth and MaxIncludes bound -r/-c includes.
	MaxIncludeDepth = 8
	MaxIncludes     = 64
)

// ErrLimit is wrapped when a manifest exceeds a limit.
var ErrLimit = errors.New("manifest limit exceeded")

// Package is one dependency a manifest declares or a lockfile pins.
type Package struct {
	// Name as written; Normalized is its PEP 503 form.
	Name       string
	Normalized string
	// Specifier is the version constraint (empty: any version).
	Specifier pep440.Set
	// Version is the exact version when pinned (lockfiles, ==V).
	Version string
	// URL is a direct reference (VCS, archive or path) instead of an index.
	URL    string
	Marker string
	Extras []string
	Hashes []string
	// Line is the 1-based line in File (0 if unknown).
	Line int
	// File is "" for the manifest itself, else the included file's path
	// relative to the manifest's directory.
	File string
	// Section names where the dependency was declared
	// ("project.dependencies", "tool.poetry.group.dev.dependencies",
	// "default", "pip"), for evidence.
	Section string
	// Constraint marks a -c constraint rather than a requirement.
	Constraint bool
	// Index names the index the package must come from, if the manifest
	// says (Pipfile.lock "index", uv/Poetry sources).
	Index string
	// Conda marks a conda (not PyPI) package of an environment file.
	Conda bool
}

// Pinned reports whether the package resolves to one exact version.
func (p Package) Pinned() bool { return p.Version != "" }

// Index is a package index a manifest configures.
type Index struct {
	URL string
	// Extra is true for an additional index consulted beside the primary
	// one (pip --extra-index-url, Poetry supplemental/secondary sources,
	// uv non-default indexes, PDM and Pipenv additional sources).
	Extra bool
	// Name is the source's name where the format has one.
	Name string
	Line int
}

// Manifest is what one parsed file declares.
type Manifest struct {
	Kind     string
	Packages []Package
	Indexes  []Index
	// TrustedHosts lists hosts exempted from TLS verification.
	TrustedHosts []string
	// Lock is true for lockfiles (exact resolutions, not intentions).
	Lock bool
	// Notes are things that could not be analysed (remote includes,
	// unreadable includes); each becomes a coverage gap.
	Notes []string
}

// UsesHashes reports whether any requirement carries a hash (pip then
// checks hashes for all of them).
func (m *Manifest) UsesHashes() bool {
	for _, p := range m.Packages {
		if len(p.Hashes) > 0 {
			return true
		}
	}
	return false
}

func (m *Manifest) add(p Package) error {
	if len(m.Packages) >= MaxPackages {
		return fmt.Errorf("%w: more than %d packages", ErrLimit, MaxPackages)
	}
	p.Normalized = pep440.NormalizeName(p.Name)
	if p.Version == "" && p.URL == "" {
		if v, ok := p.Specifier.Pinned(); ok {
			p.Version = v.String()
		}
	}
	m.Packages = append(m.Packages, p)
	return nil
}

// fromRequirement builds a Package from a PEP 508 requirement.
func fromRequirement(r pep440.Requirement) Package {
	p := Package{Name: r.Name, Specifier: r.Specifier, URL: r.URL, Extras: r.Extras}
	if r.Marker != nil {
		p.Marker = r.Marker.String()
	}
	return p
}
