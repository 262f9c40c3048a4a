package attack_test

import (
	"math"
	"testing"

	"github.com/mlsec/mlsec/internal/attack"
)

func FuzzParseSchema(f *testing.F) {
	for _, s := range []string{
		"features:\n  - {name: age, type: integer, min: 18, max: 100, immutable: true}\n  - {name: c, type: categorical, values: [2, 0, 1]}\n",
		`{"features":[{"name":"x","min":0,"max":1}]}`,
		"features:\n  - name: x\n    type: continuous\n    min: -1e308\n    max: 1e308\n",
		"features: &a [*a]",
		"",
	} {
		f.Add([]byte(s))
	}
	names := []string{"age", "c", "x"}
	data := [][]float64{{20, 1, 0.5}, {40, 2, -0.5}}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := attack.ParseSchema(b)
		if err != nil {
			return
		}
		for _, ft := range s.Features {
			if ft.Name == "" || (ft.Min != nil && ft.Max != nil && *ft.Min > *ft.Max) {
				t.Fatalf("accepted invalid feature %+v", ft)
			}
		}
		r, err := attack.Resolve(s, attack.InferSchema(names, data))
		if err != nil {
			return
		}
		sp := attack.NewSpace(r)
		u0 := sp.ToUnit(data[0])
		u := sp.Project([]float64{2, -1, 0.5}, u0)
		for _, v := range u {
			if math.IsNaN(v) {
				t.Fatalf("projection gave NaN: %v", u)
			}
		}
	})
}
