"""resgen: a compiler for ResNet-family architectures (spec -> graph -> checks -> PyTorch)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("resgen")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# The Python API, after __version__ (which the CLI imports from here). Importing it is cheap:
# torch loads only inside build_model().
from resgen.api import (
    SpecSource,
    build_model,
    compile_source,
    diff_specs,
    json_schema,
    load_spec,
    summarize,
)
from resgen.diagnostics import Diagnostic, ResgenError
from resgen.spec.load import LoadedSpec
from resgen.spec.model import Spec

__all__ = [
    "Diagnostic",
    "LoadedSpec",
    "ResgenError",
    "Spec",
    "SpecSource",
    "__version__",
    "build_model",
    "compile_source",
    "diff_specs",
    "json_schema",
    "load_spec",
    "summarize",
]
