package pep440

import (
	"errors"
	"testing"
)

func TestParseRequirement(t *testing.T) {
	for _, tc := range []struct {
		in, name, spec, url, marker string
		extras                      []string
	}{
		// Examples of PEP 508.
		{in: "A", name: "A"},
		{in: "A.B-C_D", name: "A.B-C_D"},
		{in: "aa", name: "aa"},
		{in: "name", name: "name"},
		{in: "name<=1", name: "name", spec: "<=1"},
		{in: "name>=3", name: "name", spec: ">=3"},
		{in: "name>=3,<2", name: "name", spec: ">=3,<2"},
		{in: "name@http://foo.com", name: "name", url: "http://foo.com"},
		{in: "name [fred,bar] @ http://foo.com ; python_version=='2.7'", name: "name", extras: []string{"bar", "fred"},
			url: "http://foo.com", marker: `python_version == "2.7"`},
		{in: "name[quux, strange];python_version<'2.7' and platform_version=='2'", name: "name", extras: []string{"quux", "strange"},
			marker: `python_version < "2.7" and platform_version == "2"`},
		{in: "name; os_name=='a' or os_name=='b'", name: "name", marker: `os_name == "a" or os_name == "b"`},
		{in: "name; os_name=='a' and os_name=='b' or os_name=='c'", name: "name", marker: `os_name == "a" and os_name == "b" or os_name == "c"`},
		{in: "name; os_name=='a' and (os_name=='b' or os_name=='c')", name: "name", marker: `os_name == "a" and (os_name == "b" or os_name == "c")`},
		{in: "name; os_name=='a' or os_name=='b' and os_name=='c'", name: "name", marker: `os_name == "a" or os_name == "b" and os_name == "c"`},
		{in: "name; (os_name=='a' or os_name=='b') and os_name=='c'", name: "name", marker: `(os_name == "a" or os_name == "b") and os_name == "c"`},
		// Common real-world shapes.
		{in: "torch (>=1.13, <2.0)", name: "torch", spec: ">=1.13,<2.0"},
		{in: "transformers[torch]==4.30.0", name: "transformers", extras: []string{"torch"}, spec: "==4.30.0"},
		{in: "pywin32>=300; sys_platform == \"win32\"", name: "pywin32", spec: ">=300", marker: `sys_platform == "win32"`},
		{in: "requests [security] >= 2.8.1, == 2.8.* ; python_version < \"2.7\"", name: "requests", extras: []string{"security"},
			spec: ">=2.8.1,==2.8.*", marker: `python_version < "2.7"`},
		{in: "pip @ https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686",
			name: "pip", url: "https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686"},
		{in: "foo; extra == 'Test_Extra' and 'linux' in sys_platform", name: "foo", marker: `extra == "Test_Extra" and "linux" in sys_platform`},
		{in: "foo; python_version not in '3.6 3.7'", name: "foo", marker: `python_version not in "3.6 3.7"`},
	} {
		r, err := ParseRequirement(tc.in)
		if err != nil {
			t.Errorf("ParseRequirement(%q): %v", tc.in, err)
			continue
		}
		marker := ""
		if r.Marker != nil {
			marker = r.Marker.String()
		}
		if r.Name != tc.name || r.Specifier.String() != tc.spec || r.URL != tc.url || marker != tc.marker ||
			len(r.Extras) != len(tc.extras) {
			t.Errorf("ParseRequirement(%q) = name %q spec %q url %q marker %q extras %v", tc.in, r.Name, r.Specifier, r.URL, marker, r.Extras)
		}
		for i := range tc.extras {
			if i < len(r.Extras) && r.Extras[i] != tc.extras[i] {
				t.Errorf("ParseRequirement(%q) extras %v, want %v", tc.in, r.Extras, tc.extras)
			}
		}
		if _, err := ParseRequirement(r.String()); err != nil {
			t.Errorf("canonical form %q does not parse: %v", r.String(), err)
		}
	}
}

func TestParseRequirementInvalid(t *testing.T) {
	for _, s := range []string{"", "-name", "name-", "name[", "name[a", "name (>=1", "name>=1.0 garbage",
		"name; foo == 'a'", "name; os_name == 'a", "name; os_name ~ 'a'", "name @ ", "name; (os_name=='a'"} {
		if _, err := ParseRequirement(s); err == nil {
			t.Errorf("ParseRequirement(%q) succeeded", s)
		}
	}
}

func TestMarkerEvaluate(t *testing.T) {
	env := map[string]string{"python_version": "3.11", "python_full_version": "3.11.4", "sys_platform": "linux",
		"os_name": "posix", "platform_machine": "x86_64", "implementation_name": "cpython", "extra": ""}
	for _, tc := range []struct {
		marker string
		want   bool
	}{
		{`python_version >= "3.8"`, true},
		{`python_version < "3.10"`, false}, // version, not string, comparison
		{`python_full_version == "3.11.*"`, true},
		{`sys_platform == "win32" or os_name == "posix"`, true},
		{`sys_platform == "win32" and os_name == "posix"`, false},
		{`"linux" in sys_platform`, true},
		{`platform_machine not in "arm64 aarch64"`, true},
		{`implementation_name == "cpython" and (python_version ~= "3.9" or sys_platform == "darwin")`, true},
		{`extra == "test"`, false},
	} {
		m, err := ParseMarker(tc.marker)
		if err != nil {
			t.Errorf("ParseMarker(%q): %v", tc.marker, err)
			continue
		}
		got, err := m.Evaluate(env)
		if err != nil || got != tc.want {
			t.Errorf("Evaluate(%q) = %v, %v; want %v", tc.marker, got, err, tc.want)
		}
	}
	m, _ := ParseMarker(`platform_release == "5"`)
	if _, err := m.Evaluate(env); !errors.Is(err, ErrUnknownVariable) {
		t.Errorf("unset variable: err = %v", err)
	}
}

func TestMarkerDepth(t *testing.T) {
	deep := ""
	for range 100 {
		deep += "("
	}
	if _, err := ParseMarker(deep + `os_name == "a"`); err == nil {
		t.Error("deep nesting accepted")
	}
}

func FuzzParseRequirement(f *testing.F) {
	for _, s := range []string{"name [fred,bar] @ http://foo.com ; python_version=='2.7'", "torch (>=1.13, <2.0)",
		"a; (os_name=='a' or os_name=='b') and os_name=='c'", "x; 'a' not in extra"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		if r.Marker != nil {
			_, _ = r.Marker.Evaluate(map[string]string{"python_version": "3.11", "extra": "x"})
		}
	})
}
