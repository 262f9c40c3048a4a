package pep440

import (
	"testing"
)

func TestSpecifierContains(t *testing.T) {
	// Examples from PEP 440's "Version specifiers" section, then edge cases
	// of the reference implementation.
	for _, tc := range []struct {
		spec, version string
		want          bool
	}{
		// Compatible release.
		{"~=2.2", "2.2", true}, {"~=2.2", "2.9", true}, {"~=2.2", "3.0", false}, {"~=2.2", "2.1", false},
		{"~=1.4.5", "1.4.5", true}, {"~=1.4.5", "1.4.9", true}, {"~=1.4.5", "1.5.0", false},
		{"~=2.2.post3", "2.2.post3", true}, {"~=2.2.post3", "2.2", false}, {"~=2.2.post3", "2.3", true},
		{"~=1.4.5a4", "1.4.5a4", true}, {"~=1.4.5a4", "1.4.5", true}, {"~=1.4.5a4", "1.5", false},
		{"~=2.2.0", "2.2.1", true}, {"~=2.2.0", "2.3.0", false},
		// Version matching: version = 1.1.post1.
		{"==1.1", "1.1.post1", false}, {"==1.1.post1", "1.1.post1", true}, {"==1.1.*", "1.1.post1", true},
		// Zero padding.
		{"==1.1", "1.1.0", true}, {"==1.1.0", "1.1", true}, {"==1.1.*", "1.1", true}, {"==1.1.0.*", "1.1", true},
		{"==1.1.*", "1.10", false}, {"==1.*", "1.0.dev1", true}, {"==2.*", "2rc1", true},
		// Local versions.
		{"==1.0", "1.0+local.1", true}, {"==1.0+local.1", "1.0+local.1", true}, {"==1.0+local.1", "1.0", false},
		{"==1.0+local.1", "1.0+local.2", false},
		// Exclusion.
		{"!=1.1.post1", "1.1.post1", false}, {"!=1.1", "1.1.post1", true}, {"!=1.1.*", "1.1.post1", false},
		{"!=1.1.*", "1.2", true},
		// Inclusive ordered.
		{"<=2.0", "2.0", true}, {"<=2.0", "2.0+local", true}, {">=2.0", "2.0+local", true}, {">=2.0", "1.9", false},
		// Exclusive ordered.
		{">1.7", "1.7.1", true}, {">1.7", "1.7.0.post1", false}, {">1.7", "1.7", false}, {">1.7", "1.7+local", false},
		{">1.7.post2", "1.7.1", true}, {">1.7.post2", "1.7.0.post3", true}, {">1.7.post2", "1.7.0", false},
		{"<3.1", "3.1.dev0", false}, {"<3.1", "3.0", true}, {"<3.1", "3.0.dev0", true}, {"<3.1rc1", "3.1a1", true},
		{"<3.1", "3.1", false},
		// Arbitrary equality.
		{"===foobar", "foobar", true}, {"===1.0", "1.0", true}, {"===1.0", "1.0.0", false}, {"===1.0", "1.0+local", false},
		// Epochs.
		{">=1.0", "1!0.5", true}, {"==1.*", "1!1.0", false}, {"==1!1.*", "1!1.2", true},
	} {
		sp, err := ParseSpecifier(tc.spec)
		if err != nil {
			t.Errorf("ParseSpecifier(%q): %v", tc.spec, err)
			continue
		}
		var v Version
		if tc.version == "foobar" {
			v = Version{raw: "foobar"}
		} else {
			v = MustParse(tc.version)
		}
		if got := sp.Contains(v); got != tc.want {
			t.Errorf("%s contains %s = %v, want %v", tc.spec, tc.version, got, tc.want)
		}
	}
}

func TestSpecifierInvalid(t *testing.T) {
	for _, s := range []string{"~=1", ">=1.0.*", "~=1.0.*", "<1.0+local", "==1.0a1.*", "=>1.0", "1.0", "==", "== 1.0 1.1", ">=foo"} {
		if _, err := ParseSpecifier(s); err == nil {
			t.Errorf("ParseSpecifier(%q) succeeded", s)
		}
	}
}

func TestSetContains(t *testing.T) {
	for _, tc := range []struct {
		set, version string
		pre, want    bool
	}{
		{">=1.0, !=1.3.4.*, < 2.0", "1.3.4.1", false, false},
		{">=1.0, !=1.3.4.*, < 2.0", "1.3.5", false, true},
		{">=1.0,<2.0", "2.0", false, false},
		{">=1.0", "2.0a1", false, false},  // pre-releases excluded by default
		{">=1.0", "2.0a1", true, true},    // … unless asked for
		{">=1.0a1", "2.0a1", false, true}, // … or a clause names one
		{"", "3.0", false, true},          // empty set allows anything
		{"~=0.9, >=0.9.5", "0.9.4", false, false},
		{"(>=1.0)", "1.0", false, false}, // not a set: parse fails below
	} {
		s, err := ParseSet(tc.set)
		if tc.set == "(>=1.0)" {
			if err == nil {
				t.Errorf("ParseSet(%q) succeeded", tc.set)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSet(%q): %v", tc.set, err)
			continue
		}
		if got := s.Contains(MustParse(tc.version), tc.pre); got != tc.want {
			t.Errorf("%q contains %s (pre=%v) = %v, want %v", tc.set, tc.version, tc.pre, got, tc.want)
		}
	}
}

func TestPinned(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want string
	}{
		{"==1.2.3", "1.2.3"}, {"===1.2.3", "1.2.3"}, {"==1.2.*", ""}, {">=1.0", ""}, {"==1.0,==1.0", ""}, {"", ""},
	} {
		s, err := ParseSet(tc.set)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := s.Pinned()
		if got := map[bool]string{true: v.String(), false: ""}[ok]; got != tc.want {
			t.Errorf("Pinned(%q) = %q, want %q", tc.set, got, tc.want)
		}
	}
}

func FuzzSpecifierSet(f *testing.F) {
	f.Add(">=1.0, !=1.3.*, <2", "1.5")
	f.Add("~=2.2.post3", "2.2.post4")
	f.Add("===foo", "foo")
	f.Fuzz(func(t *testing.T, set, version string) {
		s, err := ParseSet(set)
		if err != nil {
			return
		}
		if _, err := ParseSet(s.String()); err != nil {
			t.Fatalf("normal form %q of %q does not parse: %v", s.String(), set, err)
		}
		v, err := Parse(version)
		if err != nil {
			return
		}
		_ = s.Contains(v, true)
		_ = s.Contains(v, false)
	})
}
