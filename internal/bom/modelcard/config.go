package modelcard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// MaxConfigSize bounds a config.json that is read.
const MaxConfigSize = 4 << 20

// Config is what a transformers config.json says about the architecture.
type Config struct {
	Architectures []string
	ModelType     string
	TorchDType    string
	// Sizes holds the integer hyperparameters that describe the model's
	// size (hidden_size, num_hidden_layers, vocab_size, ...), by name.
	Sizes map[string]int64
	// Transformers is the transformers_version that wrote the file.
	Transformers string
}

// sizeKeys are the config keys reported as sizes; different model
// families name the same thing differently (GPT-2: n_embd, n_layer).
var sizeKeys = []string{
	"hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
	"intermediate_size", "vocab_size", "max_position_embeddings", "num_labels",
	"n_embd", "n_layer", "n_head", "n_positions", "n_ctx", "d_model", "num_layers",
	"num_heads", "d_ff", "hidden_dim", "dim", "n_layers", "n_heads", "image_size", "patch_size",
	"num_experts", "num_experts_per_tok", "sliding_window",
}

// ParseConfig reads a config.json. Unknown keys are ignored.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%w: config of %d bytes (limit %d)", ErrInvalid, len(data), MaxConfigSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: config.json: %v", ErrInvalid, err)
	}
	c := &Config{Sizes: map[string]int64{}}
	if a, ok := raw["architectures"].([]any); ok {
		for _, v := range a {
			if s, ok := v.(string); ok && len(c.Architectures) < MaxItems {
				c.Architectures = append(c.Architectures, s)
			}
		}
	}
	c.ModelType, _ = raw["model_type"].(string)
	c.TorchDType, _ = raw["torch_dtype"].(string)
	if c.TorchDType == "" {
		c.TorchDType, _ = raw["dtype"].(string)
	}
	c.Transformers, _ = raw["transformers_version"].(string)
	// Composite models (vision-language, encoder-decoder) keep sizes in
	// text_config; read the top level first, then it.
	levels := []map[string]any{raw}
	if tc, ok := raw["text_config"].(map[string]any); ok {
		levels = append(levels, tc)
	}
	for _, lvl := range levels {
		for _, k := range sizeKeys {
			if _, done := c.Sizes[k]; done {
				continue
			}
			if n, ok := lvl[k].(json.Number); ok {
				if v, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
					c.Sizes[k] = v
				}
			}
		}
		if c.ModelType == "" {
			c.ModelType, _ = lvl["model_type"].(string)
		}
	}
	return c, nil
}

// SizeNames returns the names in Sizes, sorted.
func (c *Config) SizeNames() []string {
	out := make([]string, 0, len(c.Sizes))
	for k := range c.Sizes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
