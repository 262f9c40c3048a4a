package attack

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Kind is the value type of a tabular feature.
type Kind string

// Feature kinds.
const (
	Continuous  Kind = "continuous"
	Integer     Kind = "integer"
	Categorical Kind = "categorical"
)

// Feature constrains one input column. Attacks only ever query points that
// satisfy every constraint: values within [Min, Max], integers rounded,
// categorical values from Values, immutable features left as they were.
type Feature struct {
	Name      string    `yaml:"name" json:"name"`
	Kind      Kind      `yaml:"type,omitempty" json:"type"`
	Min       *float64  `yaml:"min,omitempty" json:"min,omitempty"`
	Max       *float64  `yaml:"max,omitempty" json:"max,omitempty"`
	Values    []float64 `yaml:"values,omitempty" json:"values,omitempty"`
	Immutable bool      `yaml:"immutable,omitempty" json:"immutable,omitempty"`
}

// Schema lists feature constraints by name. A schema file is YAML (or
// JSON):
//
//	features:
//	  - name: age
//	    type: integer
//	    min: 18
//	    max: 100
//	    immutable: true
//	  - name: colour
//	    type: categorical
//	    values: [0, 1, 2]
//
// Features the file does not name, and bounds it leaves out, are inferred
// from the data (see InferSchema).
type Schema struct {
	Features []Feature `yaml:"features" json:"features"`
}

// ErrSchema marks an unusable schema file.
var ErrSchema = errors.New("attack: invalid schema")

// Schema file bounds.
const (
	maxSchemaBytes    = 1 << 20
	maxSchemaFeatures = 10000
	maxSchemaValues   = 10000
)

// ParseSchema reads a schema file. It rejects unknown keys, unknown types,
// empty or duplicate names, min > max, non-finite numbers and categorical
// features without values.
func ParseSchema(data []byte) (*Schema, error) {
	if len(data) > maxSchemaBytes {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrSchema, len(data), maxSchemaBytes)
	}
	var s Schema
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	if len(s.Features) > maxSchemaFeatures {
		return nil, fmt.Errorf("%w: %d features (limit %d)", ErrSchema, len(s.Features), maxSchemaFeatures)
	}
	seen := map[string]bool{}
	for i := range s.Features {
		f := &s.Features[i]
		f.Name = strings.TrimSpace(f.Name)
		if f.Name == "" {
			return nil, fmt.Errorf("%w: feature %d has no name", ErrSchema, i)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%w: feature %q listed twice", ErrSchema, f.Name)
		}
		seen[f.Name] = true
		switch f.Kind {
		case "":
			f.Kind = Continuous
		case Continuous, Integer, Categorical:
		default:
			return nil, fmt.Errorf("%w: feature %q: unknown type %q (want continuous, integer or categorical)", ErrSchema, f.Name, f.Kind)
		}
		for _, p := range []*float64{f.Min, f.Max} {
			if p != nil && !finite(*p) {
				return nil, fmt.Errorf("%w: feature %q: bound %v is not finite", ErrSchema, f.Name, *p)
			}
		}
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			return nil, fmt.Errorf("%w: feature %q: min %v > max %v", ErrSchema, f.Name, *f.Min, *f.Max)
		}
		if len(f.Values) > maxSchemaValues {
			return nil, fmt.Errorf("%w: feature %q: %d values (limit %d)", ErrSchema, f.Name, len(f.Values), maxSchemaValues)
		}
		for _, v := range f.Values {
			if !finite(v) {
				return nil, fmt.Errorf("%w: feature %q: value %v is not finite", ErrSchema, f.Name, v)
			}
		}
		if f.Kind == Categorical && len(f.Values) == 0 {
			return nil, fmt.Errorf("%w: feature %q: categorical needs values", ErrSchema, f.Name)
		}
		if f.Kind != Categorical && len(f.Values) > 0 {
			return nil, fmt.Errorf("%w: feature %q: values are only for categorical features", ErrSchema, f.Name)
		}
		if len(f.Values) > 0 {
			f.Values = slices.Clone(f.Values)
			slices.Sort(f.Values)
			f.Values = slices.Compact(f.Values)
		}
	}
	return &s, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// maxInferredCategories: integer columns with at most this many distinct
// values that are not contiguous, and 0/1 columns, are inferred categorical.
const maxInferredCategories = 2

// InferSchema derives constraints from data: bounds are the column's
// observed range, columns of whole numbers are integer, and two-valued
// whole-number columns (flags, one-hot indicators) categorical.
func InferSchema(names []string, x [][]float64) *Schema {
	s := &Schema{Features: make([]Feature, len(names))}
	for j, name := range names {
		lo, hi := math.Inf(1), math.Inf(-1)
		integral := true
		distinct := map[float64]bool{}
		for _, r := range x {
			v := r[j]
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			if v != math.Trunc(v) {
				integral = false
			}
			if len(distinct) <= maxInferredCategories {
				distinct[v] = true
			}
		}
		if len(x) == 0 {
			lo, hi = 0, 0
		}
		f := Feature{Name: name, Kind: Continuous, Min: &lo, Max: &hi}
		if integral && len(x) > 0 {
			f.Kind = Integer
			if len(distinct) <= maxInferredCategories {
				f.Kind = Categorical
				for v := range distinct {
					f.Values = append(f.Values, v)
				}
				slices.Sort(f.Values)
			}
		}
		s.Features[j] = f
	}
	return s
}

// Resolve orders a schema by the model's feature names, filling what the
// file leaves out from the inferred schema. Features in the file that the
// data does not have are an error.
func Resolve(file, inferred *Schema) (*Schema, error) {
	out := &Schema{Features: slices.Clone(inferred.Features)}
	if file == nil {
		return out, nil
	}
	idx := map[string]int{}
	for i, f := range inferred.Features {
		idx[f.Name] = i
	}
	for _, f := range file.Features {
		i, ok := idx[f.Name]
		if !ok {
			return nil, fmt.Errorf("%w: feature %q is not a column of the data", ErrSchema, f.Name)
		}
		g := inferred.Features[i]
		if f.Min == nil {
			f.Min = g.Min
		}
		if f.Max == nil {
			f.Max = g.Max
		}
		if f.Kind == Categorical && f.Min != nil && f.Max != nil {
			lo, hi := f.Values[0], f.Values[len(f.Values)-1]
			f.Min, f.Max = &lo, &hi
		}
		if *f.Min > *f.Max {
			return nil, fmt.Errorf("%w: feature %q: min %v > max %v after filling from data", ErrSchema, f.Name, *f.Min, *f.Max)
		}
		out.Features[i] = f
	}
	return out, nil
}
