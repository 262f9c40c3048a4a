package pickle

import (
	"fmt"
	"strings"
	"unicode"
)

// Verdict is the policy class of an imported global.
type Verdict int

const (
	// Unaudited: not on the allow-list and not known to be dangerous.
	Unaudited Verdict = iota
	// Safe: on the allow-list (what PyTorch, NumPy, scikit-learn, joblib
	// and the standard containers legitimately use).
	Safe
	// Dangerous: runs processes or code, imports modules, touches files or
	// the network.
	Dangerous
	// Code: builds functions or code objects from bytes carried in the
	// pickle (cloudpickle/dill functions by value).
	Code
)

var verdictNames = [...]string{"unaudited", "safe", "dangerous", "code"}

func (v Verdict) String() string {
	if v < 0 || int(v) >= len(verdictNames) {
		return "unknown"
	}
	return verdictNames[v]
}

// MarshalText encodes the verdict as its name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText decodes a verdict name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if n == string(b) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// Policy classifies imported globals. The zero value is the default policy.
type Policy struct {
	exact  map[string]bool
	prefix []string
}

// NewPolicy returns the default policy extended with extra safe globals:
// "module.name" for one global or "module.*" for a module and its
// submodules. Known-dangerous globals stay dangerous whatever the extras say.
func NewPolicy(extraSafe []string) *Policy {
	p := &Policy{exact: map[string]bool{}}
	for _, e := range extraSafe {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.HasSuffix(e, ".*"):
			p.prefix = append(p.prefix, strings.TrimSuffix(e, ".*"))
		default:
			p.exact[e] = true
		}
	}
	return p
}

// py2Modules maps Python 2 module names to what Python 3's unpickler
// imports instead (a subset of _compat_pickle.IMPORT_MAPPING).
var py2Modules = map[string]string{
	"__builtin__": "builtins", "exceptions": "builtins", "copy_reg": "copyreg",
	"cPickle": "pickle", "commands": "subprocess", "urllib2": "urllib.request",
	"httplib": "http.client", "SocketServer": "socketserver", "UserDict": "collections",
	"UserList": "collections", "UserString": "collections", "StringIO": "io",
	"cStringIO": "io", "thread": "_thread", "Queue": "queue", "ConfigParser": "configparser",
	"xmlrpclib": "xmlrpc.client", "urlparse": "urllib.parse", "HTMLParser": "html.parser",
	"cookielib": "http.cookiejar", "BaseHTTPServer": "http.server", "SimpleHTTPServer": "http.server",
	"CGIHTTPServer": "http.server", "dbm": "dbm", "anydbm": "dbm", "whichdb": "dbm",
	"Tkinter": "tkinter", "_winreg": "winreg", "itertools": "itertools",
}

// py2Names maps a few Python 2 (module, name) pairs (_compat_pickle.NAME_MAPPING).
var py2Names = map[string]string{
	"__builtin__.xrange": "builtins.range", "__builtin__.reduce": "functools.reduce",
	"__builtin__.intern": "sys.intern", "__builtin__.unicode": "builtins.str",
	"__builtin__.basestring": "builtins.str", "__builtin__.long": "builtins.int",
	"__builtin__.unichr": "builtins.chr", "__builtin__.raw_input": "builtins.input",
	"__builtin__.execfile": "builtins.exec", "__builtin__.file": "builtins.open",
	"__builtin__.reload": "importlib.reload", "__builtin__.apply": "builtins.eval",
	"itertools.izip": "builtins.zip", "itertools.imap": "builtins.map", "itertools.ifilter": "builtins.filter",
	"exceptions.StandardError": "builtins.Exception", "UserDict.UserDict": "collections.UserDict",
}

// vendoredCloudpickle are copies of cloudpickle inside other packages.
var vendoredCloudpickle = []string{"joblib.externals.cloudpickle", "srsly.cloudpickle", "ray.cloudpickle", "pyspark.cloudpickle", "loky.cloudpickle"}

// normalize returns the dotted path Python 3 would resolve.
func normalize(module, name string) string {
	if p, ok := py2Names[module+"."+name]; ok {
		return p
	}
	if m, ok := py2Modules[module]; ok {
		module = m
	}
	for _, v := range vendoredCloudpickle {
		if hasPrefixPath(module, v) {
			module = "cloudpickle" + strings.TrimPrefix(module, v)
		}
	}
	return module + "." + name
}

// dangerousPrefixes cover a module and all its submodules (and attributes
// reached through dotted names).
var dangerousPrefixes = []string{
	// processes and the OS
	"os", "posix", "nt", "subprocess", "_posixsubprocess", "_winapi", "pty", "shutil",
	"signal", "resource", "platform", "popen2", "commands", "sh", "pexpect",
	"multiprocessing", "_multiprocessing", "concurrent", "threading", "_thread", "asyncio",
	"_asyncio", "sched", "atexit", "faulthandler", "gc", "winreg", "msvcrt", "_signal",
	// code execution and import machinery
	"sys", "code", "codeop", "runpy", "importlib", "imp", "pkgutil", "zipimport",
	"marshal", "inspect", "ctypes", "_ctypes", "cffi", "pdb", "bdb", "trace", "timeit",
	"cProfile", "profile", "_lsprof", "pydoc", "doctest", "unittest", "idlelib",
	"compileall", "py_compile", "ast", "dis", "_imp", "site", "sitecustomize",
	"usercustomize", "venv", "ensurepip", "pip", "setuptools", "distutils", "pkg_resources",
	"_pickle", "pickle", "cPickle", "pickletools", "shelve", "copyreg._reduce_ex",
	"dill._dill._import_module", "dill._dill._eval_repr", "dill._dill._get_attr",
	"dill._dill._create_filehandle", "dill._dill._setattr", "dill._dill._delattr",
	"dill.load", "dill.loads", "dill._dill.load",
	"dill._dill.loads", "dill.source", "dill.detect", "dill.temp", "dill.session",
	"cloudpickle.load", "cloudpickle.loads", "cloudpickle.cloudpickle.subimport",
	"cloudpickle.cloudpickle.dynamic_subimport", "cloudpickle.cloudpickle._import_module",
	"joblib.load", "joblib.numpy_pickle.load", "joblib.numpy_pickle_compat",
	"joblib.parallel", "joblib._parallel_backends", "joblib.externals",
	// files
	"io.open", "io.FileIO", "io.open_code", "_io.open", "_io.FileIO", "_io.open_code",
	"codecs.open", "codecs.EncodedFile", "tempfile", "glob", "fileinput",
	"linecache", "tarfile", "zipfile", "gzip.open", "bz2.open", "lzma.open", "dbm",
	"sqlite3", "_sqlite3", "filecmp", "mmap", "mailbox", "netrc",
	"logging.config", "logging.handlers", "logging.FileHandler", "zipapp", "tabnanny",
	"pathlib.Path.", "pathlib.PosixPath.", "pathlib.WindowsPath.", "pathlib._",
	"pathlib.os", "pathlib.io",
	// network
	"socket", "_socket", "ssl", "_ssl", "select", "selectors", "http", "urllib",
	"urllib2", "urllib3", "requests", "httpx", "aiohttp", "ftplib", "smtplib", "smtpd",
	"poplib", "imaplib", "nntplib", "telnetlib", "socketserver", "SocketServer",
	"xmlrpc", "xmlrpclib", "webbrowser", "wsgiref", "uuid.getnode",
	"antigravity", "this", "turtle", "tkinter",
	// indirection that turns data into calls
	"operator.attrgetter", "operator.methodcaller", "operator.call", "_operator.attrgetter",
	"_operator.methodcaller", "_operator.call", "builtins.getattr", "builtins.setattr",
	"builtins.delattr", "builtins.eval", "builtins.exec", "builtins.compile", "builtins.open",
	"builtins.__import__", "builtins.globals", "builtins.locals", "builtins.vars",
	"builtins.breakpoint", "builtins.input", "builtins.help", "builtins.exit", "builtins.quit",
	"builtins.__build_class__", "builtins.__loader__", "builtins.__spec__", "builtins.copyright",
	"builtins.credits", "builtins.license", "types",
	// ML frameworks: loaders, hubs and code paths inside otherwise safe packages
	"torch.hub", "torch.load", "torch.serialization.load", "torch.serialization._load",
	"torch.serialization._legacy_load", "torch.utils.collect_env", "torch.utils.cpp_extension",
	"torch.utils.model_zoo", "torch.utils.data.datapipes", "torch.utils.benchmark",
	"torch.jit", "torch._C._jit", "torch._C.import_ir_module", "torch._C._load_for_lite_interpreter",
	"torch.package", "torch.ops.load_library", "torch.classes.load_library",
	"torch.distributed", "torch.multiprocessing", "torch._dynamo", "torch._inductor",
	"torch.compile", "torch.testing", "torch._ops.ops.load_library", "torch.backends.cudnn.rnn",
	"torch.fx.experimental", "torch.onnx", "torch.export", "torch._export",
	"numpy.testing", "numpy.load", "numpy.save", "numpy.savez", "numpy.savetxt", "numpy.loadtxt",
	"numpy.genfromtxt", "numpy.fromfile", "numpy.tofile", "numpy.memmap", "numpy.lib.npyio",
	"numpy.lib.format", "numpy.lib._npyio_impl", "numpy.lib.utils", "numpy.f2py",
	"numpy.distutils", "numpy.ctypeslib", "numpy._pytesttester", "numpy.core._internal",
	"numpy.DataSource", "numpy.lib._datasource",
	"pandas.read_pickle", "pandas.io", "pandas.eval", "pandas.core.computation",
	"scipy.io", "scipy.weave", "sklearn.utils._testing",
	"keras.models.load_model", "keras.saving", "tensorflow.io", "tensorflow.python.lib.io",
	"tensorflow.python.ops.script_ops", "tensorflow.python.platform.gfile",
	"IPython", "ipykernel", "jupyter_client", "notebook", "fsspec", "smart_open",
	"boto3", "botocore", "paramiko", "fabric", "invoke", "git", "docker", "kubernetes",
	"yaml.load", "yaml.unsafe_load", "yaml.full_load", "jinja2", "mako",
	// Entries ending in "*" match any continuation of the name.
	"pandas.read_*", "uuid._*", "torch._C._jit*", "torch._C._load*", "torch._C._import*",
	"torch.serialization", "torch._weights_only_unpickler", "copyreg", "cgi", "cgitb", "lib2to3",
	"numpy.load*", "numpy.save*", "scipy.io", "_sitebuiltins", "builtins.__",
}

// dangerousAttrs are attribute names that, reached through any module or
// class, give access to code, modules or the interpreter.
var dangerousAttrs = map[string]bool{
	"os": true, "sys": true, "subprocess": true, "builtins": true, "__builtins__": true,
	"posix": true, "nt": true, "importlib": true, "pty": true, "socket": true, "shutil": true,
	"runpy": true, "ctypes": true, "marshal": true, "pickle": true, "_pickle": true,
	"eval": true, "exec": true, "execfile": true, "system": true, "popen": true,
	"__import__": true, "getattr": true, "setattr": true, "delattr": true, "globals": true,
	"locals": true, "vars": true, "breakpoint": true, "compile": true, "open": true,
	"__globals__": true, "__code__": true, "__subclasses__": true, "__getattribute__": true,
	"__getattr__": true, "__setattr__": true, "__delattr__": true, "__dict__": true,
	"__class__": true, "__base__": true, "__bases__": true, "__mro__": true, "__closure__": true,
	"__func__": true, "__self__": true, "__loader__": true, "__spec__": true,
	"fromfile": true, "tofile": true, "_load_from_filelike": true, "loadtxt": true, "savetxt": true,
	"genfromtxt": true, "urlopen": true, "urlretrieve": true, "check_output": true, "getoutput": true,
	"getstatusoutput": true, "execv": true, "execve": true, "execl": true, "execlp": true, "execvp": true,
	"spawnv": true, "spawnve": true, "spawnl": true, "spawnlp": true, "posix_spawn": true, "startfile": true,
	"run_path": true, "run_module": true, "import_module": true, "load_module": true, "exec_module": true,
}

// chainedAttrs are dangerous only when reached through a dotted attribute
// chain (Path.write_text, Foo.__init__): as a module's own top-level name
// they are ordinary function names.
var chainedAttrs = map[string]bool{
	"__init__": true, "__new__": true, "__call__": true, "__reduce__": true, "__reduce_ex__": true,
	"__setstate__": true, "__module__": true, "__main__": true, "load": true, "loads": true,
	"_load": true, "run": true, "call": true, "check_call": true, "check_output": true,
	"spawn": true, "Popen": true, "fork": true, "kill": true, "remove": true, "unlink": true,
	"rmtree": true, "write_text": true, "write_bytes": true, "read_text": true, "read_bytes": true,
	"mkdir": true, "rename": true, "replace": true, "touch": true, "chmod": true, "symlink_to": true,
}

// codeGlobals build functions or code objects from bytes in the pickle.
var codeGlobals = map[string]bool{
	"cloudpickle.cloudpickle._make_function":                true,
	"cloudpickle.cloudpickle._make_skel_func":               true,
	"cloudpickle.cloudpickle._fill_function":                true,
	"cloudpickle.cloudpickle._make_skeleton_class":          true,
	"cloudpickle.cloudpickle._make_skeleton_enum":           true,
	"cloudpickle.cloudpickle._function_setstate":            true,
	"cloudpickle.cloudpickle._class_setstate":               true,
	"cloudpickle.cloudpickle_fast._function_setstate":       true,
	"cloudpickle.cloudpickle_fast._class_setstate":          true,
	"cloudpickle.cloudpickle_fast._make_function":           true,
	"cloudpickle.cloudpickle._make_cell":                    true,
	"cloudpickle.cloudpickle._make_empty_cell":              true,
	"cloudpickle.cloudpickle._make_dict_keys":               false,
	"dill._dill._create_function":                           true,
	"dill._dill._create_code":                               true,
	"dill._dill._create_cell":                               true,
	"dill._dill._create_type":                               true,
	"dill._dill._create_namedtuple":                         true,
	"dill._dill._create_ftype":                              true,
	"torch.fx.graph_module.reduce_graph_module":             true,
	"torch.fx.graph_module.reduce_package_graph_module":     true,
	"torch.fx.graph_module.reduce_deploy_graph_module":      true,
	"torch.fx.graph_module._forward_from_src":               true,
	"torch.fx.graph_module._deserialize_graph_module":       true,
	"torch.fx._symbolic_trace._create_wrapped_func":         true,
	"keras.src.utils.python_utils.func_load":                true,
	"keras.utils.generic_utils.func_load":                   true,
	"tensorflow.python.keras.utils.generic_utils.func_load": true,
}

// typeFactories return a type named by their string argument; dangerous
// only for code-making types (judged at the call).
var typeFactories = map[string]bool{
	"cloudpickle.cloudpickle._builtin_type":      true,
	"cloudpickle.cloudpickle_fast._builtin_type": true,
	"dill._dill._load_type":                      true,
}

// codeTypeNames are the type names that make code or functions.
var codeTypeNames = map[string]bool{
	"CodeType": true, "FunctionType": true, "LambdaType": true, "MethodType": true,
	"CellType": true, "ModuleType": true, "BuiltinFunctionType": true, "BuiltinMethodType": true,
	"ClassType": true, "TypeType": true, "FileType": true, "GeneratorType": true,
	"CoroutineType": true, "FrameType": true, "TracebackType": true,
}

// safeExact lists allowed globals by full path.
var safeExact = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range []string{
		// builtins that only make values
		"builtins.set", "builtins.frozenset", "builtins.dict", "builtins.list", "builtins.tuple",
		"builtins.bytearray", "builtins.bytes", "builtins.complex", "builtins.slice", "builtins.range",
		"builtins.object", "builtins.int", "builtins.float", "builtins.bool", "builtins.str",
		"builtins.Ellipsis", "builtins.NotImplemented", "builtins.NoneType",
		"_codecs.encode", "copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__",
		"collections.OrderedDict", "collections.defaultdict", "collections.Counter",
		"collections.deque", "collections.ChainMap", "collections.UserDict", "collections.UserList",
		"collections.UserString", "datetime.datetime", "datetime.date", "datetime.time",
		"datetime.timedelta", "datetime.timezone", "decimal.Decimal", "fractions.Fraction",
		"uuid.UUID", "re._compile", "types.SimpleNamespace", "argparse.Namespace",
		"pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePosixPath",
		"pathlib.PureWindowsPath", "pathlib.Path", "pathlib.PurePath", "enum.Enum",
		"_io.BytesIO", "io.BytesIO", "_io.StringIO", "io.StringIO", "array.array",
		"array._array_reconstructor", "zoneinfo.ZoneInfo", "ipaddress.IPv4Address",
		"ipaddress.IPv6Address", "re.compile",
		// numpy
		"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
		"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
		"numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
		"numpy.ndarray", "numpy.dtype", "numpy.matrix", "numpy.ma.core._mareconstruct",
		"numpy.ma.core.MaskedArray", "numpy.ma.core.MaskedConstant", "numpy.core.records.recarray",
		"numpy.rec.recarray", "numpy.core.records.record", "numpy.random._pickle.__randomstate_ctor",
		"numpy.random._pickle.__bit_generator_ctor", "numpy.random._pickle.__generator_ctor",
		"numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937",
		"numpy.random._pcg64.PCG64", "numpy.random._pcg64.PCG64DXSM",
		"numpy.random._philox.Philox", "numpy.random._sfc64.SFC64",
		"numpy.random._generator.Generator", "numpy.random.bit_generator.SeedSequence",
		"numpy.random.mtrand._rand", "numpy.random.__RandomState_ctor", "numpy.random.mtrand.__RandomState_ctor",
		"numpy.core._multiarray_umath._reconstruct", "numpy._core._multiarray_umath._reconstruct",
		"numpy.core._multiarray_umath.scalar", "numpy._core._multiarray_umath.scalar",
		"numpy.core.multiarray.dtype", "numpy.core.numeric.dtype",
		// joblib
		"joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper",
		"joblib.numpy_pickle_compat.ZNDArrayWrapper", "joblib.numpy_pickle.NDArrayWrapper",
		// dill helpers for plain data
		"dill._dill._create_array", "dill._dill._create_dtypemeta", "dill._dill._create_lock",
		"dill._dill._create_rlock", "dill._dill._create_weakref", "dill._dill._create_bytearray",
		"cloudpickle.cloudpickle._make_dict_keys", "cloudpickle.cloudpickle._make_dict_values",
		"cloudpickle.cloudpickle._make_dict_items",
		// torch
		"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
		"torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_parameter",
		"torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_qtensor",
		"torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_sparse_csr_tensor",
		"torch._utils._rebuild_nested_tensor", "torch._utils._rebuild_device_tensor_from_numpy",
		"torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_wrapper_subclass",
		"torch._utils._rebuild_xla_tensor", "torch._utils._rebuild_mps_tensor",
		"torch._utils._rebuild_buffer", "torch._utils._rebuild_typed_storage",
		"torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2",
		"torch.serialization._get_layout", "torch.Size", "torch.device", "torch.dtype",
		"torch.Tensor", "torch._tensor.Tensor", "torch.nn.parameter.Parameter",
		"torch.nn.parameter.Buffer", "torch.nn.parameter.UninitializedParameter",
		"torch.nn.parameter.UninitializedBuffer", "torch.storage.TypedStorage",
		"torch.storage.UntypedStorage", "torch.storage._TypedStorage", "torch.storage._UntypedStorage",
		"torch.UntypedStorage", "torch.TypedStorage", "torch.autograd.grad_mode.no_grad",
		"torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.sparse_csc",
		"torch.sparse_bsr", "torch.sparse_bsc", "torch._mkldnn", "torch.contiguous_format",
		"torch.channels_last", "torch.channels_last_3d", "torch.preserve_format",
		"torch.per_tensor_affine", "torch.per_channel_affine", "torch.per_tensor_symmetric",
		"torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams",
		"torch.nn.utils.spectral_norm.SpectralNorm", "torch.nn.utils.weight_norm.WeightNorm",
		// TorchScript's own pickles (constants.pkl, .debug_pkl) rebuild
		// lists and tensors through these; torch.jit itself stays dangerous.
		"torch.jit._pickle.build_intlist", "torch.jit._pickle.build_tensorlist",
		"torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
		"torch.jit._pickle.build_tensor_from_id", "torch.jit._pickle.restore_type_tag",
		// pandas
		"pandas.core.frame.DataFrame", "pandas.core.series.Series",
		"pandas._libs.internals._unpickle_block", "pandas.core.internals.managers.BlockManager",
		"pandas.core.internals.managers.SingleBlockManager", "pandas.core.internals.blocks.Block",
		"pandas.core.internals.blocks.NumpyBlock", "pandas.core.internals.blocks.ObjectBlock",
		"pandas.core.internals.blocks.DatetimeTZBlock", "pandas.core.internals.blocks.ExtensionBlock",
		"pandas.core.internals.blocks.new_block", "pandas.core.internals.blocks.FloatBlock",
		"pandas.core.internals.blocks.IntBlock", "pandas.core.internals.blocks.BoolBlock",
		"pandas.core.internals.blocks.DatetimeBlock", "pandas.core.internals.blocks.CategoricalBlock",
		"pandas.core.indexes.base._new_Index", "pandas.core.indexes.base.Index",
		"pandas.core.indexes.range.RangeIndex", "pandas.core.indexes.multi.MultiIndex",
		"pandas.core.indexes.datetimes.DatetimeIndex", "pandas.core.indexes.datetimes._new_DatetimeIndex",
		"pandas.core.indexes.numeric.Int64Index", "pandas.core.indexes.numeric.Float64Index",
		"pandas.core.indexes.numeric.UInt64Index", "pandas.core.indexes.category.CategoricalIndex",
		"pandas.core.indexes.period.PeriodIndex", "pandas.core.indexes.period._new_PeriodIndex",
		"pandas.core.indexes.timedeltas.TimedeltaIndex", "pandas.core.indexes.interval.IntervalIndex",
		"pandas.core.arrays.categorical.Categorical", "pandas.core.arrays.datetimes.DatetimeArray",
		"pandas.core.arrays.timedeltas.TimedeltaArray", "pandas.core.arrays.integer.IntegerArray",
		"pandas.core.arrays.floating.FloatingArray", "pandas.core.arrays.boolean.BooleanArray",
		"pandas.core.arrays.string_.StringArray", "pandas.core.arrays.period.PeriodArray",
		"pandas.core.arrays.sparse.array.SparseArray", "pandas._libs.tslibs.timestamps._unpickle_timestamp",
		"pandas._libs.tslibs.timestamps.Timestamp", "pandas._libs.tslibs.timedeltas.Timedelta",
		"pandas._libs.tslibs.timedeltas._timedelta_unpickle", "pandas._libs.tslibs.nattype.__nat_unpickle",
		"pandas._libs.tslibs.period.Period", "pandas._libs.tslibs.offsets.Day",
		"pandas._libs.tslibs.offsets.Hour", "pandas._libs.tslibs.offsets.Minute",
		"pandas._libs.tslibs.offsets.Second", "pandas._libs.tslibs.offsets.MonthEnd",
		"pandas._libs.tslibs.offsets.BusinessDay", "pandas._libs.tslibs.offsets.Week",
		"pandas._libs.arrays.__pyx_unpickle_NDArrayBacked", "pandas.core.dtypes.dtypes.CategoricalDtype",
		"pandas.core.dtypes.dtypes.DatetimeTZDtype", "pandas.core.dtypes.dtypes.PeriodDtype",
		"pandas.core.arrays.integer.Int64Dtype", "pandas.core.arrays.string_.StringDtype",
		"pandas._libs.tslibs.timezones", "pytz._UTC", "pytz._p", "pytz.utc",
		"dateutil.tz.tz.tzutc", "dateutil.tz.tz.tzoffset", "typing.Any", "typing.Dict", "typing.List",
		"typing.Tuple", "typing.Union", "typing.Optional", "typing.Set", "builtins.NoneType",
	} {
		m[s] = true
	}
	for _, dt := range []string{
		"float32", "float", "float64", "double", "float16", "half", "bfloat16", "int8", "uint8",
		"int16", "short", "int32", "int", "int64", "long", "bool", "complex64", "cfloat",
		"complex128", "cdouble", "complex32", "chalf", "qint8", "quint8", "qint32", "quint4x2",
		"quint2x4", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
		"uint16", "uint32", "uint64", "bits8", "bits16",
	} {
		m["torch."+dt] = true
	}
	for _, st := range []string{
		"Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
		"ComplexDouble", "ComplexFloat", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4",
	} {
		m["torch."+st+"Storage"] = true
		m["torch.cuda."+st+"Storage"] = true
	}
	for _, kind := range []string{"csr", "csc", "coo", "bsr", "dia", "dok", "lil"} {
		for _, mod := range []string{"scipy.sparse._" + kind, "scipy.sparse." + kind} {
			m[mod+"."+kind+"_matrix"] = true
			m[mod+"."+kind+"_array"] = true
		}
	}
	for _, u := range strings.Fields(numpyUfuncs) {
		for _, mod := range []string{"numpy", "numpy.core._multiarray_umath", "numpy._core._multiarray_umath", "numpy.core.umath", "numpy._core.umath"} {
			m[mod+"."+u] = true
		}
	}
	for _, t := range []string{
		"bool_", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
		"intc", "uintc", "intp", "uintp", "int_", "uint", "longlong", "ulonglong", "short", "ushort",
		"byte", "ubyte", "half", "single", "double", "longdouble", "float16", "float32", "float64",
		"float128", "complex64", "complex128", "complex256", "csingle", "cdouble", "clongdouble",
		"object_", "str_", "bytes_", "unicode_", "string_", "void", "datetime64", "timedelta64",
		"float_", "complex_", "number", "integer", "floating", "generic",
	} {
		m["numpy."+t] = true
	}
	return m
}()

// classPrefixes: any class (a CamelCase name, no dots) defined under these
// modules is allowed: estimators, layers, sparse matrices, optimizers.
var classPrefixes = []string{
	"sklearn", "torch.nn.modules", "torch.nn.parallel", "torch.optim", "torch.ao.nn",
	"torch.nn.intrinsic", "torch.nn.quantized", "torch.nn.qat", "scipy.sparse",
	"numpy.dtypes", "pandas.core.indexes", "pandas.core.internals", "pandas.core.arrays",
	"pandas._libs.tslibs", "pandas.core.dtypes", "xgboost.sklearn", "xgboost.core",
	"lightgbm.sklearn", "lightgbm.basic", "catboost.core", "imblearn", "category_encoders",
	"transformers.models", "transformers.configuration_utils", "transformers.tokenization_utils_fast",
	"transformers.tokenization_utils_base", "transformers.tokenization_utils", "transformers.training_args",
	"transformers.trainer_utils", "transformers.generation.configuration_utils", "transformers.utils.generic",
	"transformers.utils.quantization_config", "tokenizers", "accelerate.utils.dataclasses", "accelerate.state",
	"pytorch_lightning.utilities", "lightning_fabric.utilities", "lightning.fabric.utilities",
	"lightning.pytorch.utilities", "omegaconf", "sentencepiece", "peft.utils", "peft.tuners",
}

// funcPrefixes: any plain function name under these modules is allowed:
// pure tensor operations referenced by full-model saves (activation=F.relu).
var funcPrefixes = []string{
	"torch.nn.functional", "torch._C._nn", "torch._C._special", "torch._C._fft", "torch._C._linalg",
	"torch.special", "torch.fft", "torch.linalg",
}

// resolverGlobals return the global their (module, name) arguments name,
// like find_class does: judged by what they resolve to.
var resolverGlobals = map[string]bool{
	"numpy.core._ufunc_reconstruct": true, "numpy._core._ufunc_reconstruct": true,
	"numpy.core.numeric._ufunc_reconstruct": true,
}

// Classify returns the verdict for a global and a short reason.
func (p *Policy) Classify(module, name string) (Verdict, string) {
	if module == "" || name == "" {
		return Dangerous, "empty module or attribute name"
	}
	path := normalize(module, name)
	if codeGlobals[path] {
		return Code, "rebuilds a function or code object from bytes in the pickle"
	}
	if safeExact[path] {
		return Safe, "allow-listed"
	}
	if typeFactories[path] {
		return Safe, "type lookup; code types are judged at the call"
	}
	if resolverGlobals[path] {
		return Safe, "resolves a global by name; judged at the call"
	}
	// __torch__ names TorchScript classes: torch.jit.load resolves them to
	// compiled code in the archive (reviewed by the TorchScript rules), and
	// Python's unpickler cannot import them at all.
	if hasPrefixPath(module, "__torch__") && isIdent(name) && !dangerousAttrs[name] && !(strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__")) {
		return Safe, "TorchScript class; its code is reviewed by the TorchScript rules"
	}
	if v, why := dangerous(path, module, name); v != Unaudited {
		return v, why
	}
	if p != nil {
		if p.exact[path] || p.exact[module+"."+name] {
			return Safe, "allow-listed by configuration"
		}
		for _, pre := range p.prefix {
			if hasPrefixPath(path, pre) {
				return Safe, "allow-listed by configuration"
			}
		}
	}
	if isClassName(name) && !strings.HasPrefix(path, "builtins.") {
		for _, pre := range classPrefixes {
			if hasPrefixPath(module, pre) {
				return Safe, "class allow-listed under " + pre
			}
		}
	}
	if isIdent(name) && !strings.HasPrefix(name, "__") {
		for _, pre := range funcPrefixes {
			if hasPrefixPath(module, pre) {
				return Safe, "function allow-listed under " + pre
			}
		}
	}
	if strings.HasPrefix(path, "builtins.") && isClassName(name) &&
		(strings.HasSuffix(name, "Error") || strings.HasSuffix(name, "Exception") || strings.HasSuffix(name, "Warning")) {
		return Safe, "exception class"
	}
	return Unaudited, "not on the allow-list"
}

func dangerous(path, module, name string) (Verdict, string) {
	for _, pre := range dangerousPrefixes {
		if raw, ok := strings.CutSuffix(pre, "*"); ok {
			if strings.HasPrefix(path, raw) {
				return Dangerous, "in " + raw + "*"
			}
			continue
		}
		if strings.HasSuffix(pre, ".") {
			if strings.HasPrefix(path, pre) {
				return Dangerous, "method of " + strings.TrimSuffix(pre, ".")
			}
			continue
		}
		if hasPrefixPath(path, pre) {
			return Dangerous, "in " + pre
		}
	}
	// Attribute chains reach modules and interpreter internals through
	// harmless-looking modules (torch.nn.modules.module.os.system).
	chained := strings.Contains(name, ".")
	for _, part := range strings.Split(name, ".") {
		if dangerousAttrs[part] || (chained && chainedAttrs[part]) {
			return Dangerous, "reaches " + part + " through " + module
		}
	}
	if strings.ContainsAny(module, " \t\r\n;()'\"") || strings.ContainsAny(name, " \t\r\n;()'\"") {
		return Dangerous, "malformed module or attribute name"
	}
	return Unaudited, ""
}

func hasPrefixPath(path, pre string) bool {
	return path == pre || (strings.HasPrefix(path, pre) && path[len(pre)] == '.')
}

// isClassName: one CamelCase identifier, not a dunder.
func isClassName(name string) bool {
	if !isIdent(name) || strings.HasPrefix(name, "__") {
		return false
	}
	r := []rune(strings.TrimLeft(name, "_"))
	return len(r) > 0 && unicode.IsUpper(r[0])
}

// numpyUfuncs are NumPy's ufuncs: pure element-wise math, pickled by
// reference (FunctionTransformer(func=np.log1p)).
const numpyUfuncs = `abs absolute add arccos arccosh arcsin arcsinh arctan arctan2 arctanh bitwise_and
bitwise_not bitwise_or bitwise_xor cbrt ceil conj conjugate copysign cos cosh deg2rad degrees divide divmod
equal exp exp2 expm1 fabs float_power floor floor_divide fmax fmin fmod frexp gcd greater greater_equal
heaviside hypot invert isfinite isinf isnan isnat lcm ldexp left_shift less less_equal log log10 log1p log2
logaddexp logaddexp2 logical_and logical_not logical_or logical_xor matmul maximum minimum mod modf multiply
negative nextafter not_equal positive power rad2deg radians reciprocal remainder right_shift rint sign signbit
sin sinh spacing sqrt square subtract tan tanh true_divide trunc`
