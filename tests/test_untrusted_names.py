"""Names that cannot break the generated module or Python (issue 13, section 5).

`name` becomes `<name>.py` and `class_name` the model class. Neither may be a name the module
defines or imports, a builtin it calls (`class super` recurses forever), a dunder, nor (for `name`)
a module of the standard library or of torch's dependencies, which a `<name>.py` on sys.path would
shadow. Every list is derived: from the templates, `sys.stdlib_module_names`, and torch's
installed metadata (written to resgen/codegen/torch_modules.py by this file's golden test).
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

from resgen.codegen.names import defined_names, used_builtins
from resgen.codegen.torch_modules import TORCH_MODULES
from tests.conftest import GENERATED, ROOT, run_resgen
from tests.golden import assert_golden, updating

TAIL = "block: {type: basic}\nstages:\n  - {depth: 1, width: 8}\n"


def _torch_closure() -> list[str]:
    """Top-level modules of torch and every distribution it requires (extras left out)."""
    normal = re.compile(r"[-_.]+")
    wanted, todo = set(), ["torch"]
    while todo:
        dist = normal.sub("-", todo.pop()).lower()
        if dist in wanted:
            continue
        wanted.add(dist)
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        plain = [r for r in requires if "extra ==" not in r]
        todo += [re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0] for r in plain]
    owners = metadata.packages_distributions()
    return sorted(
        module
        for module, dists in owners.items()
        if module.isidentifier() and any(normal.sub("-", d).lower() in wanted for d in dists)
    )


def test_torch_modules_are_derived_from_the_installed_metadata() -> None:
    pytest.importorskip("torch")
    modules = _torch_closure()
    assert {"torch", "sympy", "networkx", "jinja2", "filelock", "fsspec"} <= set(modules)
    body = "".join(f'        "{m}",\n' for m in modules)
    text = (
        '"""Top-level modules of torch and its dependencies: generated, do not edit.\n\n'
        "Rewritten from the installed metadata by:\n"
        "    RESGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_untrusted_names.py\n"
        '"""\n\nTORCH_MODULES = frozenset(\n    {\n' + body + "    }\n)\n"
    )
    if updating():
        assert_golden(text, ROOT / "resgen" / "codegen" / "torch_modules.py")
    # Another platform installs fewer of torch's dependencies (no CUDA wheels on macOS).
    missing = sorted(set(modules) - TORCH_MODULES)
    assert not missing, f"rewrite resgen/codegen/torch_modules.py ({missing} are missing):\n" + (
        "    RESGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_untrusted_names.py"
    )


def _problems(**fields: str) -> list[tuple[str, str]]:
    """(code, message) of loading a small spec with these fields, through the front door."""
    from resgen.api import load_spec
    from resgen.diagnostics import ResgenError

    spec = {"block": {"type": "basic"}, "stages": [{"depth": 1, "width": 8}], **fields}
    try:
        load_spec(spec)
    except ResgenError as exc:
        return [(d.code, d.message) for d in exc.diagnostics]
    return []


def _builtins_named_by(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in dir(builtins)}


def test_used_builtins_cover_every_builtin_a_generated_module_names() -> None:
    files = sorted(GENERATED.glob("*.py"))
    assert len(files) > 30
    named = set().union(*(_builtins_named_by(p) for p in files)) - {"True", "False", "None"}
    assert named <= used_builtins(), named - used_builtins()
    # The ones the issue found: `class super` recursed forever.
    assert {"super", "isinstance", "range", "int", "float", "bool", "list"} <= used_builtins()


@pytest.mark.parametrize("builtin", sorted(used_builtins()))
def test_a_builtin_the_module_calls_cannot_be_the_model_class(builtin: str) -> None:
    problems = _problems(name="net", class_name=builtin)
    assert problems and problems[0][0] in ("reserved-name", "invalid-value"), problems
    assert _problems(name=builtin) != [], builtin


def test_a_name_the_module_defines_cannot_be_the_model_class_or_the_name() -> None:
    names = sorted(n for n in defined_names() if not n.startswith("_"))
    assert {"torch", "nn", "Bottleneck", "BasicBlock", "DropPath", "Affine"} <= set(names)
    for name in names:
        assert [c for c, _ in _problems(name="net", class_name=name)] == ["reserved-name"], name
        assert {c for c, _ in _problems(name=name)} == {"reserved-name"}, name


@pytest.mark.parametrize("word", ["class", "None", "lambda", "import", "if", "True"])
def test_keywords_are_refused(word: str) -> None:
    assert [c for c, _ in _problems(name=word)] == ["invalid-value"]
    assert [c for c, _ in _problems(name="net", class_name=word)] == ["invalid-value"]


@pytest.mark.parametrize("name", ["__init__", "__main__", "__builtins__", "__net"])
def test_dunders_are_refused(name: str) -> None:
    problems = _problems(name="net", class_name=name)
    assert [c for c, _ in problems] == ["reserved-name"], problems


def test_every_stdlib_and_torch_module_is_refused_as_the_name_in_any_case() -> None:
    modules = sorted(m for m in (*sys.stdlib_module_names, *TORCH_MODULES) if m.isidentifier())
    assert {"functools", "os", "typing", "json", "sympy", "networkx", "jinja2"} <= set(modules)
    for module in modules:
        for spelled in (module, module.capitalize()):
            problems = _problems(name=spelled)
            assert problems, spelled
            assert problems[0][0] in ("reserved-name", "invalid-value"), problems


def test_ordinary_names_and_the_shipped_specs_stay_valid() -> None:
    for name in ("resnet50", "net", "my_model", "functools2", "torchnet", "supernet"):
        assert _problems(name=name) == [], name
    result = run_resgen("check", "specs")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("fields", "where", "words"),
    [
        ("name: net\nclass_name: super\n", "2:13", "would replace the builtin `super`"),
        ("name: net\nclass_name: range\n", "2:13", "would replace the builtin `range`"),
        ("name: functools\n", "1:7", "shadows the standard library's `functools` module"),
        ("name: Sympy\n", "1:7", "shadows the `sympy` module, which torch imports"),
        ("name: net\nclass_name: DropPath\n", "2:13", "a name the generated module defines"),
    ],
)
def test_build_refuses_them_and_writes_nothing(
    fields: str, where: str, words: str, tmp_path: Path
) -> None:
    (tmp_path / "s.yaml").write_text(fields + TAIL, encoding="utf-8")
    result = run_resgen("build", "s.yaml", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"s.yaml:{where}: error[reserved-name]: " in result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
