package notebook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/finding"
)

// TestHTMLBesideTextPlain pins why the HTML copy of an output is scanned
// even when a text/plain copy exists: the two often differ. IPython's HTML
// objects have a placeholder as text/plain, and pandas elides middle
// columns ("...") in text/plain but not in its HTML table.
func TestHTMLBesideTextPlain(t *testing.T) {
	t.Parallel()
	token := "ghp_" + "R8x2Vq7LmN4pZ0tKc9WbYf3HsJd6Ga1UeQ5o"
	outputs := []map[string]any{
		{"output_type": "display_data", "metadata": map[string]any{}, "data": map[string]any{
			"text/plain": []string{"<IPython.core.display.HTML object>"},
			"text/html":  []string{"<a href=\"mailto:jane.doe@example.org\">Jane</a>\n", "<code>GITHUB_TOKEN=" + token + "</code>\n"},
		}},
		{"output_type": "execute_result", "execution_count": 2, "metadata": map[string]any{}, "data": map[string]any{
			"text/plain": []string{"   id  ...                 email\n", "0   1  ...  ann.lee@example.com\n"},
			"text/html": []string{"<table><tr><td>1</td><td>4111 1111 1111 1111</td>",
				"<td>ann.lee@example.com</td><td>bo.chen@example.net</td></tr></table>\n"},
		}},
	}
	nb := map[string]any{"cells": []any{map[string]any{"cell_type": "code", "execution_count": 2, "metadata": map[string]any{},
		"source": []string{"show()\n"}, "outputs": outputs}}, "metadata": map[string]any{}, "nbformat": 4, "nbformat_minor": 5}
	raw, err := json.Marshal(nb)
	if err != nil {
		t.Fatal(err)
	}
	res := engine().ScanInput(context.Background(), "h.ipynb", strings.NewReader(string(raw)), int64(len(raw)), finding.Artifact{Path: "h.ipynb"})
	var got []string
	for _, f := range res.Findings {
		s := f.RuleID
		if k, ok := f.Evidence.Fields["kind"]; ok {
			s += fmt.Sprintf(" %v output %v count %v", k, f.Evidence.Fields["output"], f.Evidence.Fields["count"])
		}
		got = append(got, s)
	}
	sort.Strings(got)
	want := []string{
		"MLS-NB-002",
		"MLS-NB-003 credit-card output 1 count 1",
		"MLS-NB-003 email output 0 count 1",
		"MLS-NB-003 email output 1 count 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
