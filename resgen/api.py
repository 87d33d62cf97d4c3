"""The Python API: load, compile, build and summarise specs without the command line.

Every function accepts a spec source (a file path, a built-in spec name, a mapping) or a spec that
`load_spec` already loaded, and raises `ResgenError`, carrying every diagnostic, when the spec is
wrong. Only `build_model` imports torch.
"""

from __future__ import annotations

import hashlib
import linecache
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

from resgen.diagnostics import ResgenError, has_errors
from resgen.spec.load import ExtendsRoot, LoadedSpec, resolve_spec_path
from resgen.spec.model import Spec
from resgen.spec.schema import json_schema, json_schema_text

if TYPE_CHECKING:
    from torch import nn

    from resgen.checks import Analysis
    from resgen.diff import SpecDiff

SpecSource: TypeAlias = str | os.PathLike[str] | Mapping[str, Any] | Spec | LoadedSpec
"""What the API accepts as a spec: a path, a built-in name, a mapping, a Spec or a LoadedSpec."""

DICT_SOURCE = "<dict>"


def load_spec(source: SpecSource, *, extends_root: ExtendsRoot = None) -> LoadedSpec:
    """Load and validate a spec from a file path, a built-in spec name or a mapping.

    A mapping is validated as if it were a JSON file named `<dict>`: diagnostics point at
    `<dict>:line:col` of its `json.dumps(indent=2)` text. Its `extends` works as in a file, but a
    base path is relative to the working folder, since a mapping has no folder of its own. A
    `Spec` is re-validated too.

    `extends` reads only .yaml, .yml and .json files inside the spec's folder, or inside the
    working folder if that holds the spec (a mapping: the working folder); `extends_root` (a
    folder or several) allows more.
    """
    from resgen.pipeline import validate
    from resgen.spec.load import load_spec_data, load_spec_file

    if isinstance(source, LoadedSpec):
        return source
    if isinstance(source, Spec):
        data = source.model_dump(mode="json", exclude_unset=True)
        return validate(load_spec_data(data, "<Spec>", extends_root))
    if isinstance(source, Mapping):
        return validate(load_spec_data(source, DICT_SOURCE, extends_root))
    if isinstance(source, (str, os.PathLike)):
        path, name = resolve_spec_path(os.fspath(source))
        return validate(load_spec_file(path, name, extends_root))
    raise TypeError(
        f"load_spec() takes a path, a built-in spec name, a mapping or a loaded spec, "
        f"not {type(source).__name__}"
    )


def check_spec(
    spec: SpecSource, *, extends_root: ExtendsRoot = None
) -> tuple[LoadedSpec, Analysis]:
    """Load a spec and run every static pass; raise `ResgenError` if any finds an error."""
    from resgen.pipeline import check

    loaded = load_spec(spec, extends_root=extends_root)
    analysis = check(loaded)
    if has_errors(analysis.diagnostics):
        raise ResgenError(analysis.diagnostics)
    return loaded, analysis


def compile_source(
    spec: SpecSource,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    extends_root: ExtendsRoot = None,
) -> str:
    """Return the generated source of a spec, exactly as `resgen build -o OUT_DIR` writes it.

    The docstring names the spec relative to the folder that holds `out_dir` (by default
    `generated`, as for `resgen build`).
    """
    from resgen.pipeline import compile_spec

    loaded = load_spec(spec, extends_root=extends_root)
    if out_dir is not None:
        loaded = loaded.for_output(Path(out_dir))
    compiled = compile_spec(loaded)
    assert compiled.source is not None  # compile_spec raises instead of returning no source
    return compiled.source


def build_model(spec: SpecSource, **kwargs: Any) -> nn.Module:
    """Generate a spec's model class in memory and return an instance of it.

    Keyword arguments go to the constructor (`num_classes`, `in_channels`,
    `zero_init_residual`). No file is written: the source runs in a fresh module, and it is
    registered with `linecache` so tracebacks, `inspect` and `torch.jit.script` can read it.
    """
    try:
        import torch  # noqa: F401  (imported here so a missing torch gets a clear message)
    except ImportError as exc:
        raise ImportError(
            "resgen.build_model needs PyTorch: pip install 'resgen[torch]' (or torch)"
        ) from exc
    loaded = load_spec(spec)
    module = load_module(compile_source(loaded), loaded.spec.name)
    model_class = getattr(module, loaded.spec.model_class)
    instance: nn.Module = model_class(**kwargs)
    return instance


def load_module(source: str, name: str) -> ModuleType:
    """Execute generated source as a new module that is not put in `sys.modules`."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    filename = f"<resgen:{name}:{digest}>"
    # An mtime of None keeps linecache.checkcache() from dropping the entry.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = ModuleType(f"resgen_generated_{name}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def summarize(spec: SpecSource, *, extends_root: ExtendsRoot = None) -> dict[str, Any]:
    """Return the numbers `resgen info -o json` prints: input, params, MACs, per-stage rows."""
    from resgen.report import info_json

    loaded, analysis = check_spec(spec, extends_root=extends_root)
    return info_json(loaded, analysis)


def diff_specs(a: SpecSource, b: SpecSource, *, extends_root: ExtendsRoot = None) -> SpecDiff:
    """Compare two specs: changed fields, and per-stage shapes, params and MACs.

    Both specs are checked first; a `ResgenError` carries the diagnostics of both.
    """
    from resgen.diff import compare_specs

    checked, problems = [], []
    for spec in (a, b):
        try:
            checked.append(check_spec(spec, extends_root=extends_root))
        except ResgenError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise ResgenError(problems)
    return compare_specs(checked[0], checked[1])


__all__ = [
    "SpecSource",
    "build_model",
    "check_spec",
    "compile_source",
    "diff_specs",
    "json_schema",
    "json_schema_text",
    "load_module",
    "load_spec",
    "summarize",
]
