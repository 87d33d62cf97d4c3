"""The Python API: load, compile, build and summarise specs without the command line.

Every function accepts a spec source (a file path, a built-in spec name, a mapping) or a spec that
`load_spec` already loaded, and raises `ResgenError`, carrying every diagnostic, when the spec is
wrong. Only `build_model` imports torch.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import math
import numbers
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

from resgen.diagnostics import Diagnostic, ResgenError, error, has_errors
from resgen.spec.load import ExtendsRoot, LoadedSpec, resolve_spec_path
from resgen.spec.model import Spec
from resgen.spec.schema import json_schema, json_schema_text

if TYPE_CHECKING:
    from torch import nn

    from resgen.checks import Analysis
    from resgen.diff import SpecDiff
    from resgen.infer import Inferred

SpecSource: TypeAlias = str | os.PathLike[str] | Mapping[str, Any] | Spec | LoadedSpec
"""What the API accepts as a spec: a path, a built-in name, a mapping, a Spec or a LoadedSpec."""

DICT_SOURCE = "<dict>"


def load_spec(source: SpecSource, *, extends_root: ExtendsRoot = None) -> LoadedSpec:
    """Load and validate a spec from a file path, a built-in spec name or a mapping.

    A mapping is validated as if it were a JSON file named `<dict>`: diagnostics point at
    `<dict>:line:col` of its `json.dumps(indent=2)` text. Its `extends` works as in a file, but a
    base path is relative to the working folder, since a mapping has no folder of its own. A
    `Spec` is re-validated too.

    A mapping may hold what Python code naturally makes: tuples for lists, numpy and other
    `numbers.Integral`/`numbers.Real` values for numbers, a `pathlib.Path` for `extends`. They
    become plain lists, ints, floats and strings before validation (`plain_data`); a bool stays a
    bool, and NaN or infinity is an `invalid-value` diagnostic.

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
        return validate(load_spec_data(plain_data(source), DICT_SOURCE, extends_root))
    if isinstance(source, (str, os.PathLike)):
        path, name = resolve_spec_path(os.fspath(source))
        return validate(load_spec_file(path, name, extends_root))
    raise TypeError(
        f"load_spec() takes a path, a built-in spec name, a mapping or a loaded spec, "
        f"not {type(source).__name__}"
    )


def plain_data(data: Mapping[Any, Any]) -> dict[Any, Any]:
    """Return a spec mapping as the plain values a spec file holds, or raise `ResgenError`.

    Tuples become lists, `numbers.Integral` values ints and other `numbers.Real` values floats
    (numpy's included; its bool stays a bool, as Python's does), and a path-like `extends` a
    string. Anything else is kept as it is, for validation to judge. NaN and infinity are refused
    at their place in the mapping's `<dict>` text.
    """
    non_finite: list[tuple[tuple[Any, ...], float]] = []
    plain: dict[Any, Any] = _plain(dict(data), (), non_finite)
    if isinstance(plain.get("extends"), os.PathLike):
        plain["extends"] = os.fspath(plain["extends"])
    if non_finite:
        raise ResgenError(_non_finite_diagnostics(plain, non_finite))
    return plain


def _plain(
    value: Any, path: tuple[Any, ...], non_finite: list[tuple[tuple[Any, ...], float]]
) -> Any:
    """`value` with its containers and numbers made plain; non-finite numbers are noted."""
    if isinstance(value, Mapping):
        return {
            _plain_key(k): _plain(v, (*path, _plain_key(k)), non_finite) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_plain(item, (*path, i), non_finite) for i, item in enumerate(value)]
    if _is_bool(value):
        return bool(value)  # Python's or numpy's bool: still a bool, never a number
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            non_finite.append((path, number))
        return number
    return value


def _is_bool(value: Any) -> bool:
    """Python's bool, or numpy's (which is no `numbers.Integral`), without importing numpy."""
    kind = type(value)
    return isinstance(value, bool) or (
        kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")
    )


def _finite_view(value: Any) -> Any:
    """Plain data with each NaN or infinity replaced by its name, so that JSON can hold it."""
    if isinstance(value, dict):
        return {k: _finite_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_view(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _plain_key(key: Any) -> Any:
    """A stage-patch key given as a numpy integer is the int it stands for."""
    return int(key) if isinstance(key, numbers.Integral) and not isinstance(key, bool) else key


def _non_finite_diagnostics(
    data: dict[Any, Any], found: list[tuple[tuple[Any, ...], float]]
) -> list[Diagnostic]:
    """One `invalid-value` per NaN or infinity, at its place in the mapping's `<dict>` text."""
    from resgen.spec.source import parse_text

    # The text shows them as strings (JSON has no NaN); only its positions are needed.
    text = json.dumps(_finite_view(data), indent=2, ensure_ascii=False, default=repr, skipkeys=True)
    source = parse_text(text + "\n", DICT_SOURCE, fmt="json")[1]
    return [
        error(
            "invalid-value",
            f"{_dotted(path)}: must be a finite number (got {number})",
            source.locate(path),
            "NaN and infinity are not spec values: give a finite number",
        )
        for path, number in found
    ]


def _dotted(path: tuple[Any, ...]) -> str:
    """A mapping path as Python code indexes it: `head.dropout`, `stages[0].width`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


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
    `zero_init_residual`). No file is written: the source runs as a module that `load_module`
    registers in `sys.modules` and `linecache`, so the model pickles, `torch.save`s whole and
    shows its source to `inspect`, tracebacks and `torch.jit.script`.
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
    """Execute generated source as a module registered under a name derived from its hash.

    The module is `sys.modules["resgen_generated_<name>_<digest>"]` (the digest is the source's
    SHA-256), so its models pickle, `torch.save` whole and `copy.deepcopy` like any imported
    class; its source is in `linecache`, so `inspect.getsource`, tracebacks and
    `torch.jit.script` read it. The same source gives the same module: a second call returns the
    registered one (generated modules hold only class definitions), so classes of models built
    earlier stay the ones pickle finds. Unpickling in another process needs the same spec built
    there first (or the generated file imported).
    """
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    module_name = f"resgen_generated_{name}_{digest}"
    filename = f"<resgen:{name}:{digest}>"
    # An mtime of None keeps linecache.checkcache() from dropping the entry.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    registered = sys.modules.get(module_name)
    if registered is not None and getattr(registered, "__file__", None) == filename:
        return registered
    module = ModuleType(module_name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    # setdefault: of two threads building the same source at once, both get the first module.
    return sys.modules.setdefault(module_name, module)


def infer(module: nn.Module, name: str | None = None, **assume: Any) -> Inferred:
    """Infer the spec of a live ResNet module: `.spec` (data), `.text` (commented YAML).

    Its weights give the widths, depths and kinds; its modules the strides, pools, activations
    and epsilons. `assume` sets what neither shows (`zero_init_residual=True`; keys with dots
    as in `--assume` go through `**{"head.dropout": 0.2}`). Needs torch.
    """
    from resgen.infer import infer as infer_module

    return infer_module(module, name, assume)


def summarize(spec: SpecSource, *, extends_root: ExtendsRoot = None) -> dict[str, Any]:
    """Return the numbers `resgen info -f json` prints: input, params, MACs, per-stage rows."""
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
    "infer",
    "json_schema",
    "json_schema_text",
    "load_module",
    "load_spec",
    "summarize",
]
