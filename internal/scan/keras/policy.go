package keras

import "strings"

// kerasRoots are the packages whose objects Keras itself resolves.
var kerasRoots = map[string]bool{
	"keras": true, "keras_nlp": true, "keras_cv": true, "keras_hub": true, "tf_keras": true,
}

func kerasModule(m string) bool {
	root, _, _ := strings.Cut(m, ".")
	if kerasRoots[root] {
		return true
	}
	for _, p := range []string{"tensorflow.keras", "tensorflow.python.keras", "tensorflow.compat.v1.keras", "tensorflow.compat.v2.keras"} {
		if m == p || strings.HasPrefix(m, p+".") {
			return true
		}
	}
	return false
}

// frameworkModule: numerical libraries whose functions legitimately appear
// as activations or initializers in saved configs.
func frameworkModule(m string) bool {
	root, _, _ := strings.Cut(m, ".")
	switch root {
	case "tensorflow", "tf", "numpy", "np", "jax", "jaxlib", "torch", "math":
		return true
	}
	return false
}

// dangerousRoots are modules (and everything below them) that give
// process, code, import, file, network or deserialization access.
var dangerousRoots = map[string]bool{
	"os": true, "posix": true, "nt": true, "posixpath": true, "ntpath": true, "subprocess": true,
	"_posixsubprocess": true, "sys": true, "builtins": true, "__builtin__": true, "__builtins__": true,
	"shutil": true, "socket": true, "importlib": true, "imp": true, "runpy": true, "pty": true,
	"code": true, "codeop": true, "commands": true, "webbrowser": true, "pickle": true, "_pickle": true,
	"cPickle": true, "marshal": true, "dill": true, "cloudpickle": true, "joblib": true, "shelve": true,
	"ctypes": true, "_ctypes": true, "cffi": true, "multiprocessing": true, "threading": true, "_thread": true,
	"asyncio": true, "pdb": true, "bdb": true, "timeit": true, "cProfile": true, "profile": true,
	"pydoc": true, "urllib": true, "urllib2": true, "urllib3": true, "http": true, "httplib": true,
	"requests": true, "httpx": true, "aiohttp": true, "ftplib": true, "telnetlib": true, "smtplib": true,
	"poplib": true, "imaplib": true, "xmlrpc": true, "tempfile": true, "pathlib": true, "glob": true,
	"io": true, "_io": true, "fileinput": true, "operator": true, "functools": true, "types": true,
	"inspect": true, "signal": true, "zipimport": true, "pip": true, "setuptools": true, "distutils": true,
	"pkg_resources": true, "platform": true, "fcntl": true, "resource": true, "gc": true, "sysconfig": true,
	"site": true, "venv": true, "ensurepip": true, "zipfile": true, "tarfile": true, "sqlite3": true,
	"linecache": true, "traceback": true, "trace": true, "doctest": true, "unittest": true,
	"torch.hub": true, "numpy.testing": true, "numpy.f2py": true, "numpy.distutils": true,
	"tensorflow.io": true, "tensorflow.python.platform.gfile": true,
}

// dangerousModule reports m or any of its parent packages in the list.
func dangerousModule(m string) bool {
	for {
		if dangerousRoots[m] {
			return true
		}
		i := strings.LastIndexByte(m, '.')
		if i < 0 {
			return false
		}
		m = m[:i]
	}
}

var dangerousNames = map[string]bool{
	"system": true, "popen": true, "Popen": true, "exec": true, "eval": true, "execfile": true,
	"compile": true, "__import__": true, "open": true, "getattr": true, "setattr": true,
	"import_module": true, "check_output": true, "check_call": true, "call": true, "run": true,
	"spawn": true, "spawnl": true, "spawnv": true, "spawnve": true, "execv": true, "execve": true,
	"execl": true, "execvp": true, "fork": true, "kill": true, "remove": true, "unlink": true,
	"rmtree": true, "rmdir": true, "write_file": true, "read_file": true, "urlopen": true,
	"loads": true, "py_function": true, "numpy_function": true, "py_func": true, "runstring": true,
	"load_library": true, "load_op_library": true, "GFile": true, "Open": true,
}

// dangerousName checks the last component of a class or function name.
func dangerousName(n string) bool {
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		n = n[i+1:]
	}
	return dangerousNames[n]
}

// dangerousTFSymbol checks a TensorFlow API name (without "tf.") used by a
// TFOpLambda layer: file, process and Python-function ops.
func dangerousTFSymbol(s string) bool {
	for _, part := range strings.Split(s, ".") {
		switch part {
		case "gfile", "saved_model", "py_function", "numpy_function", "py_func", "write_file",
			"read_file", "matching_files", "load_library", "load_op_library", "experimental_run_functions_eagerly",
			"create_file_writer", "enable_dump_debug_info", "write_graph", "save", "load":
			return true
		}
	}
	return false
}

// tfNamespaces are TensorFlow API namespaces whose names collide with
// Python modules in dangerousRoots.
var tfNamespaces = map[string]bool{"io": true, "signal": true, "types": true, "sysconfig": true}

// weakRoots are dangerous modules whose names are also ordinary words; a
// bare string such as "signal.stft" or "io.x" is not evidence by itself.
var weakRoots = map[string]bool{
	"io": true, "signal": true, "types": true, "code": true, "site": true, "trace": true,
	"profile": true, "resource": true, "platform": true, "gc": true, "glob": true, "inspect": true,
	"operator": true, "functools": true, "traceback": true, "linecache": true, "unittest": true,
	"doctest": true, "zipfile": true, "tarfile": true, "sqlite3": true, "threading": true, "venv": true,
	"http": true, "sysconfig": true, "fileinput": true, "joblib": true, "shelve": true, "imp": true,
}

// strongDangerousModule is dangerousModule without the ordinary-word roots,
// for dotted strings found anywhere in a config.
func strongDangerousModule(m string) bool {
	root, _, _ := strings.Cut(m, ".")
	return !weakRoots[root] && dangerousModule(m)
}

// kerasGadgets are Keras API functions that, called from a config, turn off
// safe mode, load another model or write files.
var kerasGadgets = map[string]bool{
	"enable_unsafe_deserialization": true, "load_model": true, "get_file": true,
	"set_global_attribute": true, "load_weights": true, "save_model": true, "save": true,
}
