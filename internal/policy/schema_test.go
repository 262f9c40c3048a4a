package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/mlsec/mlsec/internal/policy"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

// The input documents the engine builds follow schema/policy-input.schema.json.
func TestInputSchema(t *testing.T) {
	s := reporttest.Schema(t, "../../schema/policy-input.schema.json")
	clean, _ := cleanInput(t)
	ra := 0.7
	rob := benchInput()
	rob.Robustness = policy.RobustnessEvidence{Present: true, Attacks: []policy.RobustnessAttack{{Name: "hsj", Kind: "evasion", SuccessRate: 0.1, RobustAccuracy: &ra}}}
	for name, in := range map[string]*policy.Input{"clean": clean, "bench": rob, "empty": {EvaluatedAt: now}} {
		in.SchemaVersion = policy.InputSchemaVersion
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := reporttest.Validate(s, data); err != nil {
			t.Errorf("%s: %v\n%s", name, err, data)
		}
	}
}
