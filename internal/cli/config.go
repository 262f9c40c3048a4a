package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// configFileName is looked for in the working directory, then in the user
// config directory under mlsec/.
const configFileName = "mlsec.yaml"

// config is the parsed config file: top-level keys are global flag names;
// a section named after a command (e.g. "scan:") holds that command's flags.
type config struct {
	path string
	data map[string]any
}

func loadConfig(explicit string) (*config, error) {
	paths := []string{explicit}
	if explicit == "" {
		paths = []string{configFileName}
		if dir, err := os.UserConfigDir(); err == nil {
			paths = append(paths, filepath.Join(dir, "mlsec", configFileName))
		}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			if explicit == "" && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("config %s: %w", p, unwrapPath(err))
		}
		c := &config{path: p, data: map[string]any{}}
		if err := yaml.Unmarshal(b, &c.data); err != nil {
			return nil, fmt.Errorf("config %s: %w", p, err)
		}
		if c.data == nil {
			c.data = map[string]any{}
		}
		return c, nil
	}
	return &config{data: map[string]any{}}, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lookup finds a flag's value: first in the command's section, then at the
// top level. Keys may use '-' or '_'.
func (c *config) lookup(section, name string) (any, bool) {
	if sec, ok := c.data[section].(map[string]any); ok {
		if v, ok := findKey(sec, name); ok {
			return v, true
		}
	}
	return findKey(c.data, name)
}

func findKey(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	v, ok := m[strings.ReplaceAll(name, "-", "_")]
	return v, ok
}

// setFromConfig sets a flag from a YAML value; lists become repeated values.
func setFromConfig(f *pflag.Flag, v any) error {
	switch x := v.(type) {
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, scalarString(e))
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			return sv.Replace(parts)
		}
		return f.Value.Set(strings.Join(parts, ","))
	case map[string]any:
		return fmt.Errorf("expected a value, found a mapping")
	default:
		return f.Value.Set(scalarString(x))
	}
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}
