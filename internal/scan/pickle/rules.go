package pickle

import "github.com/mlsec/mlsec/internal/finding"

var refs = []finding.Reference{
	finding.CWE(502),
	finding.ATLAS("AML.T0010.003"),
	finding.ATLAS("AML.T0011.000"),
	finding.ATLAS("AML.T0018.002"),
	finding.OWASPML("ML06"),
}

const remediation = "Do not load this file with pickle, torch.load(weights_only=False), joblib.load or numpy.load(allow_pickle=True). " +
	"Obtain the model from a trusted source and verify its signature; convert it to a format that carries no code " +
	"(safetensors for tensors, ONNX or skops for estimators); when a pickle is unavoidable, load it with " +
	"torch.load(weights_only=True) or a restricted Unpickler whose find_class allows only the globals you expect."

// Rules of the pickle engine.
var (
	RuleDangerous = finding.MustRegister(finding.Rule{
		ID:       "MLS-PKL-001",
		Name:     "PickleDangerousCall",
		Title:    "Pickle imports or calls a dangerous global",
		Severity: finding.Critical,
		Summary: "The pickle imports a callable that runs processes or code, imports modules, or touches files " +
			"or the network (os.system, builtins.eval, subprocess, runpy, pydoc.locate, operator.attrgetter, " +
			"torch.hub, nested pickle.loads ...), or calls the result of a call. Loading the file runs it.",
		Doc: "Python's unpickler imports every global the stream names and calls what REDUCE, NEWOBJ, INST, " +
			"OBJ and BUILD tell it to. mlsec runs the stream on a symbolic stack machine (nothing is executed) " +
			"and reports each import that is known to be dangerous together with the call as it would run.",
		Remediation: remediation,
		References:  refs,
	})
	RuleUnaudited = finding.MustRegister(finding.Rule{
		ID:       "MLS-PKL-002",
		Name:     "PickleUnauditedImport",
		Title:    "Pickle imports a global outside the allow-list",
		Severity: finding.Medium,
		Summary: "The pickle imports a global that is neither on the allow-list of what PyTorch, NumPy, " +
			"scikit-learn, joblib and the standard containers use, nor known to be dangerous. Loading the file " +
			"runs that code; review it, then allow-list it in the configuration (safe_globals) if it is expected.",
		Remediation: "Check that the module is one you trust and expect in this model, then add \"module.name\" " +
			"(or \"module.*\") to the pickle allow-list in mlsec.yaml. " + remediation,
		References: refs,
	})
	RuleCode = finding.MustRegister(finding.Rule{
		ID:       "MLS-PKL-003",
		Name:     "PickleCodeByValue",
		Title:    "Pickle carries Python code by value",
		Severity: finding.High,
		Summary: "The pickle rebuilds functions or code objects from bytecode it carries (cloudpickle or dill " +
			"functions and lambdas, marshal'd code, torch.fx generated source). That code can do anything when " +
			"it is called, and cannot be reviewed from the file's imports.",
		Remediation: "Prefer models that reference library functions by name. If code by value is expected " +
			"(a cloudpickle'd pipeline step), review the code with `mlsec inspect` before loading. " + remediation,
		References: refs,
	})
	RuleObfuscated = finding.MustRegister(finding.Rule{
		ID:       "MLS-PKL-004",
		Name:     "PickleHiddenImport",
		Title:    "Pickle hides what it imports or calls",
		Severity: finding.High,
		Summary: "The pickle imports a global whose name is computed at load time (STACK_GLOBAL over a call's " +
			"result), through the copyreg extension registry (EXT1/EXT2/EXT4), or calls a value the analysis " +
			"cannot resolve. Benign serializers do not do this; it defeats name-based scanners.",
		Remediation: remediation,
		References:  refs,
	})
	RuleMutatesGlobal = finding.MustRegister(finding.Rule{
		ID:       "MLS-PKL-005",
		Name:     "PickleMutatesGlobal",
		Title:    "Pickle modifies an imported module or class",
		Severity: finding.High,
		Summary: "A BUILD opcode sets attributes on an imported global (a module, class or function) instead of " +
			"on an object the pickle created. This monkey-patches code that runs later, e.g. replacing a method " +
			"of an allow-listed class.",
		Remediation: remediation,
		References:  refs,
	})
)
