"""Nothing in a spec gets into generated code except as data, and `build` writes only its files.

Every string of the spec language is listed in `STRING_FIELDS`: a new one fails
`test_every_string_field_is_covered` until it is added here and attacked below.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

import resgen.cli
from resgen.api import compile_source, load_module
from resgen.cli import main
from resgen.diagnostics import ResgenError
from resgen.files import write_atomic
from resgen.spec.limits import GENERATED_NAMES
from resgen.spec.model import Spec
from tests.conftest import ROOT, SPECS, run_resgen

TEMPLATES = ROOT / "templates"
BASE: dict[str, Any] = {
    "name": "tiny",
    "input": {"size": 16},
    "stem": {"type": "cifar", "width": 8},
    "block": {"type": "basic"},
    "stages": [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2}],
    "head": {"classes": 3},
}
# The string fields of the spec language and where each one can go.
STRING_FIELDS = {
    ("extends",): "read as a file name; never emitted",
    ("name",): "an identifier: the file name",
    ("class_name",): "an identifier: the class name",
    ("description",): "docstring text, escaped by docstring_safe",
    # User blocks (issue 23; tests/test_user_blocks_security.py feeds the injection payloads
    # into every one of these and checks each is refused at its line and column).
    ("blocks",): "block names: identifiers, never emitted as code",
    ("blocks", "class_name"): "an identifier: the block's class name",
    ("blocks", "description"): "docstring text, escaped by docstring_safe (tested below)",
    ("blocks", "params"): "param names: identifiers that are no constructor local",
    ("blocks", "params", "description"): "documentation only; never emitted",
    ("block", "params"): "names of the user block's params, checked against its declaration",
    ("blocks", "ops", "name"): "module names: up to four identifiers, no dunder or reserved name",
    ("blocks", "ops", "input"): "names of ops or `x`, checked, never emitted as text",
    ("blocks", "ops", "output_name"): "a Python variable name: an identifier, checked",
    ("blocks", "branch"): "an op's name, checked",
    ("blocks", "shortcut_from"): "an op's name or `x`, checked",
    ("blocks", "projection_from"): "an op's name or `x`, checked",
    ("blocks", "output_act"): "an activation or an act op's name, checked",
    # Values: an int, or an expression parsed with `ast` under an allow-list (resgen.spec.expr)
    # and printed back from the checked tree, never evaluated by Python.
    ("blocks", "ops", "out"): "an expression of the allow-listed language",
    ("blocks", "ops", "kernel"): "an expression of the allow-listed language",
    ("blocks", "ops", "stride"): "an expression of the allow-listed language",
    ("blocks", "ops", "groups"): "an expression of the allow-listed language",
    ("blocks", "ops", "dilation"): "an expression of the allow-listed language",
    ("blocks", "ops", "padding"): "an expression of the allow-listed language",
    ("blocks", "ops", "channels"): "an expression of the allow-listed language",
    ("blocks", "ops", "start"): "an expression of the allow-listed language",
    ("blocks", "ops", "paths"): "an expression of the allow-listed language",
    ("blocks", "ops", "hidden"): "an expression of the allow-listed language",
    ("blocks", "ops", "dims"): "expressions of the allow-listed language",
}
MARKER = "RESGEN_PWNED"
# What an attacker would try; each, in a description, must stay docstring text.
PAYLOADS = [
    '"""',
    "'''",
    '"""; import os; os.system("touch RESGEN_PWNED"); """',
    '\\"""; import os; os.system("touch RESGEN_PWNED") #',
    "\\",
    "ends in a backslash \\",
    'a quote " and a backslash \\ and \\" together',
    "nul \x00 byte",
    "line\nbreak\n\nimport os\nos.system('touch RESGEN_PWNED')",
    "carriage\rreturn",
    "unicode\u2028line\u2029separators\x85next line",
    "right-to-left \u202e override",
    "{{ 7 * 7 }} {% if true %}jinja{% endif %} {# comment #}",
    "${HOME} $(touch RESGEN_PWNED) `touch RESGEN_PWNED` %s %(x)s {0}",
    "\\N{BULLET} \\x41 \\u0041 \\U00000041 \\n \\t \\0",
    # Long enough to wrap, with escapes right where the wrap falls: an escape split across two
    # lines once left `\N` (a syntax error) behind.
    "a" * 95 + "\\N{BULLET}",
    "a" * 95 + '\\"""' * 3,
    "b" * 94 + "\\xZZ",
    " ".join(["word\\"] * 60),
    "emoji \U0001f600 and CJK 残差网络 and combining e\u0301",
]


def _spec(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                node.body = body[1:]
    return tree


def _shape(source: str) -> str:
    return ast.dump(_strip_docstrings(ast.parse(source)))


def _squeeze(text: str) -> str:
    return "".join(c for c in text if not c.isspace())


@pytest.fixture(scope="module")
def harmless() -> str:
    return _shape(compile_source(_spec(description="A harmless description.")))


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_description_stays_in_the_docstring(
    payload: str, harmless: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = compile_source(_spec(description=payload))
    tree = ast.parse(source)  # still Python
    assert _shape(source) == harmless  # the same code; only the docstring differs
    doc = ast.get_docstring(tree, clean=False)
    assert doc is not None
    # The docstring holds the text itself (wrapped), not an altered or truncated copy.
    first = doc.split("\n\nGenerated by resgen from")[0]
    assert _squeeze(first) == _squeeze(payload)
    # Importing it runs nothing but class definitions.
    monkeypatch.chdir(tmp_path)
    module = load_module(source, "tiny")
    assert not (tmp_path / MARKER).exists()
    assert sorted(n for n in vars(module) if not n.startswith("__")) == sorted(
        [*module.__all__, "torch", "nn"]
    )


USER_BLOCK: dict[str, Any] = {
    "ops": [
        {"op": "conv", "name": "conv1", "out": "out_channels", "kernel": 3, "stride": "stride"},
        {"op": "norm", "name": "bn1"},
    ],
}


# A block's description is at most 200 characters (a longer one is an `invalid-value` error).
SHORT_PAYLOADS = [payload for payload in PAYLOADS if len(payload) <= 200]


@pytest.mark.parametrize("payload", SHORT_PAYLOADS, ids=range(len(SHORT_PAYLOADS)))
def test_a_user_blocks_description_stays_in_its_docstring(
    payload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user block's description is the other free text that reaches generated code."""
    spec = _spec(blocks={"mine": USER_BLOCK}, block={"type": "mine"}, shortcut="projection")
    harmless = compile_source({**spec, "blocks": {"mine": {**USER_BLOCK, "description": "Mine."}}})
    source = compile_source({**spec, "blocks": {"mine": {**USER_BLOCK, "description": payload}}})
    assert _shape(source) == _shape(harmless)  # the same code; only the docstring differs
    classes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]
    docs = [ast.get_docstring(c, clean=False) or "" for c in classes]
    assert any(_squeeze(doc) == _squeeze(payload) for doc in docs)
    monkeypatch.chdir(tmp_path)
    load_module(source, "tiny_user_block")
    assert not (tmp_path / MARKER).exists()


@pytest.mark.parametrize("payload", PAYLOADS[:9], ids=range(9))
def test_description_from_a_yaml_file(payload: str, harmless: str, tmp_path: Path) -> None:
    """The same through the YAML reader (escapes such as \\x00 and \\u2028 decoded by YAML)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(_spec(description=payload), allow_unicode=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        source = compile_source("tiny.yaml")
    harmless_source = compile_source(_spec(description="A harmless description."))
    assert _shape(source) == _shape(harmless_source) == harmless


BAD_NAMES = [
    "os.system",
    "__import__('os').system('id')",
    "__import__",
    "__init__",
    "__builtins__",
    "class",
    "None",
    "True",
    "print('x')",
    "a b",
    "../outside",
    "/tmp/absolute",
    "sub/dir",
    "..",
    "x\x00",
    "x\n",
    "",
    " x",
    "\u210cello",  # a Python identifier (black-letter H), not ASCII; NFKC makes it Hello
    "résumé",
    "x" * 65,
    "1st",
    "torch",
]
BAD_CLASS_NAMES = [*BAD_NAMES, "nn", "BasicBlock", "Bottleneck", "DropPath", "SqueezeExcite"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_diagnostics(name: str) -> None:
    with pytest.raises(ResgenError) as exc:
        compile_source(_spec(name=name))
    assert exc.value.diagnostics
    assert all(d.code in ("invalid-value", "reserved-name") for d in exc.value.diagnostics)


@pytest.mark.parametrize("name", BAD_CLASS_NAMES)
def test_bad_class_names_are_diagnostics(name: str) -> None:
    with pytest.raises(ResgenError) as exc:
        compile_source(_spec(class_name=name))
    assert all(d.code in ("invalid-value", "reserved-name") for d in exc.value.diagnostics)


def test_derived_class_name_cannot_collide() -> None:
    with pytest.raises(ResgenError) as exc:
        compile_source(_spec(name="basic_block"))  # class BasicBlock would replace the block
    assert [d.code for d in exc.value.diagnostics] == ["reserved-name"]


@pytest.mark.parametrize("name", ["_", "_x", "match", "case", "type", "self", "x" * 64])
def test_odd_but_valid_names_generate_working_modules(name: str) -> None:
    source = compile_source(_spec(name=name, class_name=f"Net{len(name)}"))
    module = load_module(source, name)
    model = getattr(module, f"Net{len(name)}")()
    assert model(__import__("torch").zeros(1, 3, 16, 16)).shape == (1, 3)


def test_every_string_field_is_covered() -> None:
    """A new string field in the spec language needs an entry in STRING_FIELDS (and a test)."""
    found = set()

    def walk(model: type[BaseModel], path: tuple[str, ...]) -> None:
        for key, field in model.model_fields.items():
            for kind in _leaf_types(field.annotation):
                if kind is str:
                    found.add((*path, key))
                elif isinstance(kind, type) and issubclass(kind, BaseModel):
                    walk(kind, (*path, key))

    walk(Spec, ())
    assert found == set(STRING_FIELDS)


def _leaf_types(annotation: Any) -> list[Any]:
    """The types inside an annotation, Literals excluded (they cannot carry free text)."""
    if typing.get_origin(annotation) is typing.Literal:
        return []
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _leaf_types(args[0])
    if args:
        return [leaf for arg in args for leaf in _leaf_types(arg)]
    return [annotation]


def test_generated_names_cover_the_templates() -> None:
    """GENERATED_NAMES lists every top-level name a template defines or imports."""
    defined = set()
    for path in TEMPLATES.rglob("*.jinja"):
        for line in path.read_text().splitlines():
            words = line.split()
            if line.startswith(("class ", "def ")) and "{{" not in words[1]:
                defined.add(words[1].split("(")[0].rstrip(":"))
            elif line.startswith("import "):
                defined.add(words[1].split(".")[0])
            elif line.startswith("from ") and "__future__" not in line:
                defined.update(w.strip(",") for w in words[3:])
            elif " = " in line and not line.startswith((" ", "{", "#")):
                defined.add(words[0].rstrip(":"))  # `NAME = ...` or `NAME: type = ...`
    public = {n for n in defined if not n.startswith("_")}
    assert public <= GENERATED_NAMES, public - GENERATED_NAMES


def test_spec_file_name_stays_in_the_docstring(tmp_path: Path, harmless: str) -> None:
    """The spec's file name is printed in the docstring: quotes and newlines in it are data."""
    name = 'evil"""\nimport os\nos.system("touch RESGEN_PWNED")\n""" <b>&.yaml'
    (tmp_path / name).write_text(yaml.safe_dump(_spec(description="A harmless description.")))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        source = compile_source(name)
        assert _shape(source) == harmless
        load_module(source, "tiny")
        assert not (tmp_path / MARKER).exists()
        out = run_resgen("draw", name, "-o", "tiny.svg", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    if shutil.which("dot"):
        assert (tmp_path / "tiny.svg").read_text().startswith("<?xml")


# --- where build writes -------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_build_writes_only_its_files(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(BASE))
    before = _tree(tmp_path)
    result = run_resgen("build", "spec.yaml", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = _tree(tmp_path)
    assert set(after) - set(before) == {"out/tiny.py"}
    assert all(after[k] == v for k, v in before.items())


def test_name_cannot_leave_the_output_directory(tmp_path: Path) -> None:
    for name in ("../escaped", "/tmp/escaped", "sub/escaped", "..", "__init__"):
        (tmp_path / "spec.yaml").write_text(yaml.safe_dump(_spec(name=name)))
        result = run_resgen("build", "spec.yaml", "-o", "out", cwd=tmp_path)
        assert result.returncode == 1
        assert "error[" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escaped.py").exists() and not Path("/tmp/escaped.py").exists()


def test_failed_build_leaves_earlier_outputs_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_resgen("build", str(SPECS / "resnet18.yaml"), "-o", str(out)).returncode == 0
    before = _tree(out)
    stamp = (out / "resnet18.py").stat().st_mtime_ns
    # The same name, now broken: the old file stays as it was.
    broken = re.sub(
        r"^shortcut: .*$", "shortcut: identity", (SPECS / "resnet18.yaml").read_text(), flags=re.M
    )
    (tmp_path / "resnet18.yaml").write_text(broken)
    result = run_resgen("build", str(tmp_path / "resnet18.yaml"), "-o", str(out))
    assert result.returncode == 1 and "shortcut-shape" in result.stderr
    assert _tree(out) == before and (out / "resnet18.py").stat().st_mtime_ns == stamp


def test_check_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_resgen("build", str(SPECS / "resnet18.yaml"), "-o", str(out), "--check")
    assert result.returncode == 1 and not out.exists()
    out.mkdir()
    (out / "resnet18.py").write_text("stale\n")
    result = run_resgen("build", str(SPECS / "resnet18.yaml"), "-o", str(out), "--check")
    assert result.returncode == 1
    assert _tree(out) == {"resnet18.py": b"stale\n"}


def test_atomic_write_leaves_no_temp_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.py"
    target.write_text("old\n")

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(resgen.cli.os, "replace", fail)
    with pytest.raises(OSError):
        write_atomic(target, "new\n")
    assert _tree(tmp_path) == {"model.py": b"old\n"}  # untouched, and no temp file left
    monkeypatch.undo()
    assert write_atomic(target, "new\n") is True
    assert _tree(tmp_path) == {"model.py": b"new\n"}


def test_unwritable_output_is_a_diagnostic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").write_text("a file where the output directory should be\n")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        code = main(["build", str(SPECS / "resnet18.yaml"), "-o", "out"])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert code == 1 and "internal error" not in err


def test_generated_code_has_no_dynamic_execution() -> None:
    """Generated modules import torch only and never eval, exec or import dynamically."""
    source = compile_source(_spec(description=PAYLOADS[2]))
    tree = ast.parse(source)
    imports = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imports == {"torch"}
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & {"eval", "exec", "compile", "__import__", "open", "getattr"}
