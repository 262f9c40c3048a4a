package keras

import "github.com/mlsec/mlsec/internal/finding"

var supplyChain = []finding.Reference{
	finding.CWE(502),
	finding.CWE(94),
	finding.ATLAS("AML.T0010.003"),
	finding.ATLAS("AML.T0011.000"),
	finding.ATLAS("AML.T0018.002"),
	finding.OWASPML("ML06"),
}

func refs(extra ...finding.Reference) []finding.Reference {
	return append(append([]finding.Reference(nil), supplyChain...), extra...)
}

const remediateUntrusted = "Do not load this model from an untrusted source. Load Keras models with " +
	"safe_mode=True (the default in Keras 3) and a current Keras release, prefer weights-only formats " +
	"(model.weights.h5 or safetensors) and rebuild the architecture in code you control."

// Rules of the Keras scanners.
var (
	RuleLambdaCode = finding.MustRegister(finding.Rule{
		ID:       "MLS-KER-001",
		Name:     "KerasLambdaBytecode",
		Title:    "Keras Lambda layer carries marshalled Python bytecode",
		Severity: finding.Critical,
		Summary: "The model config embeds a serialized Python function (base64 of marshal data) that Keras " +
			"turns back into code and runs when the model is loaded or called without safe mode.",
		Doc: "Keras serializes a Lambda layer's Python lambda with marshal. Loading the model (legacy .h5 " +
			"always, .keras with safe_mode=False) rebuilds the function from that bytecode, so whoever wrote " +
			"the file chooses the code that runs (CVE-2024-3660). The evidence lists the names and string " +
			"constants of the code object, read without executing it.",
		Remediation: remediateUntrusted + " Replace Lambda layers with custom layers registered in code.",
		References:  refs(finding.CVE("CVE-2024-3660"), finding.CVE("CVE-2025-9905")),
	})
	RuleForeignModule = finding.MustRegister(finding.Rule{
		ID:       "MLS-KER-002",
		Name:     "KerasForeignModule",
		Title:    "Keras config loads a class or function from outside Keras",
		Severity: finding.Critical,
		Summary: "An object in the model config names a Python module outside Keras; vulnerable Keras " +
			"versions import it and call the named class or function with attacker-chosen arguments.",
		Doc: "Keras 3 configs record each object's module, class and config. Before 3.9 the loader imported " +
			"any module and instantiated the named attribute, even in safe mode (CVE-2025-1550), so a " +
			"config entry such as subprocess.Popen runs commands on load. Dangerous modules are critical; " +
			"other unaudited modules are high.",
		Remediation: remediateUntrusted + " Upgrade Keras to 3.9 or later.",
		References:  refs(finding.CVE("CVE-2025-1550")),
	})
	RuleCustomObject = finding.MustRegister(finding.Rule{
		ID:       "MLS-KER-003",
		Name:     "KerasCustomObject",
		Title:    "Keras model requires a custom object (user code)",
		Severity: finding.Medium,
		Summary: "The model config references a registered custom layer, function or object whose code is " +
			"not in the file; loading it runs whatever code provides that name.",
		Doc: "Custom objects are resolved from the loader's registry or custom_objects. They are legitimate " +
			"in many projects, but the code that will run is outside the model file and must be reviewed.",
		Remediation: "Review the code that provides the custom object before loading; pin its source.",
		References:  refs(),
	})
	RuleDangerousReference = finding.MustRegister(finding.Rule{
		ID:       "MLS-KER-004",
		Name:     "KerasDangerousReference",
		Title:    "Keras config names a dangerous Python callable",
		Severity: finding.Critical,
		Summary: "A value in the model config is a dotted reference to a process, code-execution, file or " +
			"network function (for example os.system used as an activation or loss).",
		Doc: "Keras resolves activations, initializers, losses and other callables by name. A reference to " +
			"a function of os, subprocess, builtins and similar modules has no place in a model and is a " +
			"code-execution attempt.",
		Remediation: remediateUntrusted,
		References:  refs(finding.CVE("CVE-2025-1550")),
	})
	RuleTFOp = finding.MustRegister(finding.Rule{
		ID:       "MLS-KER-005",
		Name:     "KerasDangerousTFOp",
		Title:    "Keras TFOpLambda layer calls a file, process or Python-function op",
		Severity: finding.Critical,
		Summary: "A TFOpLambda or SlicingOpLambda layer names a TensorFlow symbol that reads or writes " +
			"files, runs Python, or a symbol outside TensorFlow.",
		Doc: "TFOpLambda layers call the TensorFlow API function named in their config when the model runs. " +
			"Ops such as tf.io.write_file, tf.io.read_file, tf.py_function or tf.numpy_function turn a " +
			"model into a file reader, writer or code runner.",
		Remediation: remediateUntrusted,
		References:  refs(),
	})
	RuleSafeModeBypass = finding.MustRegister(finding.Rule{
		ID:       "MLS-KER-006",
		Name:     "KerasSafeModeBypass",
		Title:    "Keras config calls a Keras function that defeats safe mode",
		Severity: finding.Critical,
		Summary: "The config references a Keras API function that turns off safe mode, loads another model " +
			"unsafely or downloads files (enable_unsafe_deserialization, load_model, get_file), or a " +
			"TFSMLayer that loads an external SavedModel.",
		Doc: "Objects from Keras' own modules pass the module allow-list, so attackers chain Keras functions " +
			"as gadgets: keras.config.enable_unsafe_deserialization disables safe mode before a Lambda layer " +
			"is built (CVE-2025-9906), a Lambda whose function is keras.models.load_model with " +
			"safe_mode=False loads a second, malicious model, and keras.utils.get_file writes attacker " +
			"content to disk (CVE-2025-8747). A TFSMLayer loads a SavedModel from an arbitrary path.",
		Remediation: remediateUntrusted + " Upgrade Keras to 3.11 or later.",
		References:  refs(finding.CVE("CVE-2025-9906"), finding.CVE("CVE-2025-8747")),
	})
)
