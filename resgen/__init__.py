"""resgen: a compiler for ResNet-family architectures (spec -> graph -> checks -> PyTorch)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    __version__: str
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

# The Python API, imported on first use: the CLI starts from `import resgen` and must be able to
# catch SIGINT before the spec models (pydantic) load. torch loads only inside build_model().
_API = {
    "SpecSource": "resgen.api",
    "build_model": "resgen.api",
    "compile_source": "resgen.api",
    "diff_specs": "resgen.api",
    "json_schema": "resgen.api",
    "load_spec": "resgen.api",
    "summarize": "resgen.api",
    "Diagnostic": "resgen.diagnostics",
    "ResgenError": "resgen.diagnostics",
    "LoadedSpec": "resgen.spec.load",
    "Spec": "resgen.spec.model",
}


def __getattr__(name: str) -> Any:
    if name == "__version__" or name in _API:
        value = _version() if name == "__version__" else getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'resgen' has no attribute {name!r}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("resgen")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"


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
