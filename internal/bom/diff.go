package bom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// MaxBOMSize bounds a BOM document read for a diff.
const MaxBOMSize = 256 << 20

// Change kinds.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// Diff categories, in report order.
var DiffCategories = []string{"model", "weights", "datasets", "dependencies", "licenses", "findings"}

// Change is one difference between two BOMs.
type Change struct {
	Category string `json:"category"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Old      string `json:"old,omitempty"`
	New      string `json:"new,omitempty"`
}

// DiffResult lists the changes from an old BOM to a new one.
type DiffResult struct {
	Old     string   `json:"old"`
	New     string   `json:"new"`
	Changes []Change `json:"changes"`
}

// Inventory is what a BOM is compared on: name -> value per category.
type Inventory map[string]map[string]string

// DecodeCycloneDX reads a CycloneDX BOM, JSON or XML (told apart by the
// first significant byte).
func DecodeCycloneDX(r io.Reader) (*cdx.BOM, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBOMSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBOMSize {
		return nil, fmt.Errorf("BOM larger than %d bytes", MaxBOMSize)
	}
	ff := cdx.BOMFileFormatJSON
	if t := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf"); len(t) > 0 && t[0] == '<' {
		ff = cdx.BOMFileFormatXML
	}
	var b cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), ff).Decode(&b); err != nil {
		return nil, fmt.Errorf("decode CycloneDX: %w", err)
	}
	if ff == cdx.BOMFileFormatJSON && b.BOMFormat != cdx.BOMFormat {
		return nil, fmt.Errorf("not a CycloneDX BOM (bomFormat %q)", b.BOMFormat)
	}
	return &b, nil
}

// IsCycloneDX reports whether data looks like a CycloneDX document.
func IsCycloneDX(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	return len(t) > 0 && (t[0] == '{' && bytes.Contains(head, []byte(`"bomFormat"`)) ||
		t[0] == '<' && bytes.Contains(head, []byte("cyclonedx.org/schema/bom")))
}

func propOf(ps *[]cdx.Property, name string) string {
	if ps == nil {
		return ""
	}
	for _, p := range *ps {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func sha256Of(hs *[]cdx.Hash) string {
	if hs == nil {
		return ""
	}
	for _, h := range *hs {
		if h.Algorithm == cdx.HashAlgoSHA256 {
			return h.Value
		}
	}
	return ""
}

var weightExts = []string{".safetensors", ".gguf", ".bin", ".pt", ".pth", ".onnx", ".h5", ".keras", ".ckpt", ".pkl", ".joblib", ".npz", ".tflite", ".pb"}

func licenseText(ls *cdx.Licenses) []string {
	if ls == nil {
		return nil
	}
	var out []string
	for _, l := range *ls {
		switch {
		case l.Expression != "":
			out = append(out, l.Expression)
		case l.License != nil && l.License.ID != "":
			out = append(out, l.License.ID)
		case l.License != nil:
			out = append(out, l.License.Name)
		}
	}
	sort.Strings(out)
	return out
}

// InventoryOf extracts what a diff compares from a CycloneDX BOM. BOMs
// from other producers work too: weights are then recognised by file
// extension, and machine-learning-model components are compared.
func InventoryOf(b *cdx.BOM) Inventory {
	inv := Inventory{}
	for _, c := range DiffCategories {
		inv[c] = map[string]string{}
	}
	if b.Metadata != nil && b.Metadata.Component != nil {
		mc := b.Metadata.Component
		inv["model"]["name"] = mc.Name
		if v := propOf(mc.Properties, propPrefix+"model:parameters"); v != "" {
			inv["model"]["parameters"] = v
		}
		if v := propOf(mc.Properties, propPrefix+"model:quantization"); v != "" {
			inv["model"]["quantization"] = v
		}
		if v := propOf(mc.Properties, propPrefix+"model:dtypes"); v != "" {
			inv["model"]["dtypes"] = v
		}
		if mc.ModelCard != nil && mc.ModelCard.ModelParameters != nil {
			if a := mc.ModelCard.ModelParameters.ModelArchitecture; a != "" {
				inv["model"]["architecture"] = a
			}
		}
		if mc.ModelCard != nil && mc.ModelCard.QuantitativeAnalysis != nil && mc.ModelCard.QuantitativeAnalysis.PerformanceMetrics != nil {
			for _, m := range *mc.ModelCard.QuantitativeAnalysis.PerformanceMetrics {
				inv["model"]["metric "+m.Type+" ("+m.Slice+")"] = m.Value
			}
		}
		for _, l := range licenseText(mc.Licenses) {
			inv["licenses"][mc.Name] = strings.TrimPrefix(inv["licenses"][mc.Name]+" OR "+l, " OR ")
		}
	}
	refName := map[string]string{}
	if b.Components != nil {
		for _, c := range *b.Components {
			refName[c.BOMRef] = c.Name
			switch c.Type {
			case cdx.ComponentTypeFile:
				role := propOf(c.Properties, propPrefix+"file:role")
				isW := role == RoleWeights
				if role == "" {
					for _, e := range weightExts {
						isW = isW || strings.HasSuffix(strings.ToLower(c.Name), e)
					}
				}
				if isW {
					v := sha256Of(c.Hashes)
					if s := propOf(c.Properties, propPrefix+"file:size"); s != "" {
						v += " (" + s + " bytes)"
					}
					inv["weights"][c.Name] = v
				}
			case cdx.ComponentTypeMachineLearningModel:
				inv["model"]["base "+c.Name] = "present"
			case cdx.ComponentTypeData:
				inv["datasets"][c.Name] = firstNonEmpty(propOf(c.Properties, propPrefix+"dataset:role"), "present")
			case cdx.ComponentTypeLibrary, cdx.ComponentTypeFramework:
				key := c.Name
				if c.PackageURL != "" {
					key = purlName(c.PackageURL)
				}
				inv["dependencies"][key] = firstNonEmpty(c.Version, propOf(c.Properties, propPrefix+"dependency:specifier"), "unpinned")
				if ls := licenseText(c.Licenses); len(ls) > 0 {
					inv["licenses"][key] = strings.Join(ls, " OR ")
				}
			}
		}
	}
	if b.Vulnerabilities != nil {
		for _, v := range *b.Vulnerabilities {
			target := ""
			if v.Affects != nil && len(*v.Affects) > 0 {
				ref := (*v.Affects)[0].Ref
				target = firstNonEmpty(refName[ref], ref)
			}
			sev := ""
			if v.Ratings != nil && len(*v.Ratings) > 0 {
				sev = string((*v.Ratings)[0].Severity)
			}
			key := v.ID + " in " + target
			if loc := propOf(v.Properties, propPrefix+"finding:location"); loc != "" {
				key = v.ID + " at " + loc
			}
			inv["findings"][key] = sev
		}
	}
	return inv
}

// purlName drops the version from a package URL ("pkg:pypi/torch").
func purlName(p string) string {
	if i := strings.LastIndexByte(p, '@'); i > strings.LastIndexByte(p, '/') {
		return p[:i]
	}
	return p
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// Compare lists the differences between two inventories.
func Compare(old, new Inventory) []Change {
	var out []Change
	for _, cat := range DiffCategories {
		o, n := old[cat], new[cat]
		names := map[string]bool{}
		for k := range o {
			names[k] = true
		}
		for k := range n {
			names[k] = true
		}
		sorted := make([]string, 0, len(names))
		for k := range names {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			ov, inOld := o[k]
			nv, inNew := n[k]
			switch {
			case !inOld:
				out = append(out, Change{Category: cat, Kind: Added, Name: k, New: nv})
			case !inNew:
				out = append(out, Change{Category: cat, Kind: Removed, Name: k, Old: ov})
			case ov != nv:
				out = append(out, Change{Category: cat, Kind: Changed, Name: k, Old: ov, New: nv})
			}
		}
	}
	return out
}

// WriteText renders a diff for people, grouped by category.
func (d *DiffResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "BOM diff: %s -> %s\n", d.Old, d.New)
	if len(d.Changes) == 0 {
		b.WriteString("no differences in model, weights, datasets, dependencies, licences or findings\n")
	}
	cat := ""
	for _, c := range d.Changes {
		if c.Category != cat {
			cat = c.Category
			fmt.Fprintf(&b, "\n%s:\n", cat)
		}
		switch c.Kind {
		case Added:
			fmt.Fprintf(&b, "  + %s", c.Name)
			if c.New != "" {
				fmt.Fprintf(&b, "  %s", c.New)
			}
		case Removed:
			fmt.Fprintf(&b, "  - %s", c.Name)
			if c.Old != "" {
				fmt.Fprintf(&b, "  %s", c.Old)
			}
		default:
			fmt.Fprintf(&b, "  ~ %s  %s -> %s", c.Name, c.Old, c.New)
		}
		b.WriteByte('\n')
	}
	if len(d.Changes) > 0 {
		counts := map[string]int{}
		for _, c := range d.Changes {
			counts[c.Kind]++
		}
		fmt.Fprintf(&b, "\n%d added, %d removed, %d changed\n", counts[Added], counts[Removed], counts[Changed])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON renders a diff as JSON.
func (d *DiffResult) WriteJSON(w io.Writer) error {
	if d.Changes == nil {
		d.Changes = []Change{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
