"""generated/ is the golden record, and as clean as hand-written code.

`make build` (`resgen build specs --deploy`) writes two files per spec: `<name>.py`, the model, and
`<name>_deploy.py`, its deploy build. The test builds them again exactly so and compares them with
the checked-in files, printing a diff and `make build` when they differ. All of them pass ruff and
ruff format, the models only import torch, and a sample of each kind passes mypy strict.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GENERATED, ROOT, SPECS, run_resgen
from tests.golden import assert_golden

BUILD = ("build", "specs", "--deploy")  # what `make build` runs, from the repository root
REGENERATE = "make build"
SPEC_NAMES = sorted(p.stem for p in SPECS.glob("*.yaml"))
EXPECTED = sorted([f"{n}.py" for n in SPEC_NAMES] + [f"{n}_deploy.py" for n in SPEC_NAMES])

# One file per feature family; `make lint` checks all of them.
MYPY_SAMPLE = ["resnet50", "seresnet50", "ecaresnet50d", "resnet50_gn", "resnet20", "wrn28_10",
               "preact_resnet164", "resnet101d", "res2next50", "skresnet50d",
               "resnest50d_4s2x40d"]  # fmt: skip
MYPY_DEPLOY_SAMPLE = ["resnet18", "resnet50", "resnet50d", "seresnet50", "preact_resnet164",
                      "resnet50_gn", "res2net50d", "skresnext50_32x4d",
                      "resnest50d_1s4x24d"]  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every spec built again, as `make build` builds it, in a copy of the repository's layout.

    The docstring names the spec by its path from the output folder's parent (`specs/x.yaml`),
    so the copy keeps `specs/` and `generated/` side by side.
    """
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(SPECS, root / "specs")
    result = run_resgen(*BUILD, "-o", "generated", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "generated"


@pytest.mark.parametrize("name", EXPECTED)
def test_generated_is_up_to_date(name: str, built: Path) -> None:
    assert_golden((built / name).read_text(encoding="utf-8"), GENERATED / name, REGENERATE)


def test_generated_holds_exactly_the_built_files(built: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == EXPECTED
    extra = sorted({p.name for p in GENERATED.glob("*.py")} - {*EXPECTED, "__init__.py"})
    assert not extra, f"generated/ holds files no spec builds, delete them: {extra}"


def test_ruff_check_and_format() -> None:
    lint = _run("ruff", "check", "generated")
    assert lint.returncode == 0, lint.stdout
    fmt = _run("ruff", "format", "--check", "generated")
    assert fmt.returncode == 0, fmt.stdout


@pytest.fixture(scope="module")
def mypy_report() -> str:
    """mypy strict over both samples in one run (loading torch's stubs is most of its time)."""
    files = [f"generated/{n}.py" for n in MYPY_SAMPLE]
    files += [f"generated/{n}_deploy.py" for n in MYPY_DEPLOY_SAMPLE]
    result = _run("mypy", "--no-incremental", *files)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.stdout


def _mypy_errors(report: str, files: list[str]) -> list[str]:
    return [line for line in report.splitlines() if line.split(":", 1)[0] in files]


def test_mypy_strict_on_a_sample_of_generated_files(mypy_report: str) -> None:
    files = [f"generated/{n}.py" for n in MYPY_SAMPLE]
    assert _mypy_errors(mypy_report, files) == [], mypy_report


def test_mypy_strict_on_a_sample_of_deploy_files(mypy_report: str) -> None:
    files = [f"generated/{n}_deploy.py" for n in MYPY_DEPLOY_SAMPLE]
    assert _mypy_errors(mypy_report, files) == [], mypy_report


def _imports(path: Path) -> set[str]:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    return imported


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_generated_files_import_only_torch(name: str) -> None:
    # Beside torch, the standard library only: the OrderedDict of a keyed Sequential (a RegNet's,
    # timm's conv-norm-act modules).
    trained = _imports(GENERATED / f"{name}.py")
    keyed = "OrderedDict(" in (GENERATED / f"{name}.py").read_text(encoding="utf-8")
    assert trained == ({"collections", "torch"} if keyed else {"torch"})
    deploy = _imports(GENERATED / f"{name}_deploy.py")
    assert "torch" in deploy and deploy - {"torch"} <= set(sys.stdlib_module_names), deploy


def test_no_absolute_paths_and_clean_line_ends() -> None:
    for path in GENERATED.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert str(ROOT) not in text and "/work/" not in text, path
        assert "\r" not in text and text.endswith("\n") and not text.endswith("\n\n"), path
