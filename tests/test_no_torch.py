"""resgen never imports torch (or numpy, or the other heavy modules) except to run a model.

`check`, `build` (normal and deploy), `info`, `draw`, `diff`, `resolve` and `schema` run as a user
runs them, `python -m resgen ARGS` in a fresh interpreter, and so do the API functions that need
no model (everything but `build_model` and `load_module`). Each case reports which heavy modules
its interpreter loaded; the answer must be none. `resgen probe` runs models and `resgen infer`
reads checkpoints, so they are not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from resgen.cli.parser import COMMANDS as CLI_COMMANDS
from tests.conftest import ROOT

HEAVY = ("torch", "torchvision", "timm", "numpy", "matplotlib")
OUT = "{out}"  # replaced by a temporary folder

# Every command, with the argument lists it runs in one interpreter and the exit code each gives.
COMMANDS: dict[str, list[tuple[list[str], int]]] = {
    "check": [
        (["check", "specs"], 0),
        (["check", "tests/specs/invalid", "-f", "json"], 1),
        (["check", "specs/resnet50.yaml", "-f", "github"], 0),
        (["check", "resnet18", "-o", f"{OUT}/check.txt"], 0),
    ],
    "build": [
        (["build", "specs", "-o", OUT], 0),
        (["build", "specs", "-o", OUT, "--check"], 0),
    ],
    "build-deploy": [
        (["build", "resnet50", "preact_resnet164", "--deploy", "-o", OUT], 0),
        (["build", "resnet50", "preact_resnet164", "--deploy", "-o", OUT, "--check"], 0),
    ],
    "info": [
        (["info", "specs/resnet50.yaml"], 0),
        (["info", "specs/resnet50.yaml", "-f", "json"], 0),
        (["info", "specs/resnet18.yaml", "--per-block", "-f", "markdown"], 0),
        (["info", "specs/plain56.yaml", "-f", "json"], 0),
        (["info", "resnet18", "resnet20", "-f", "json", "-o", f"{OUT}/info.json"], 0),
    ],
    "draw": [
        *(
            (["draw", "specs/resnet50.yaml", "--detail", detail, "-o", f"{OUT}/r-{detail}.dot"], 0)
            for detail in ("stage", "block", "op")
        ),
        (["draw", "resnet18", "resnet20", "-f", "dot", "-o", OUT], 0),
    ],
    "view": [(["view", "resnet50", "-o", f"{OUT}/r.html"], 0)],
    "diff": [
        (["diff", "resnet18", "resnet50", "-f", "json"], 1),  # they differ
        (["diff", "resnet18", "resnet34"], 1),
        (["diff", "resnet18", "resnet18"], 0),
    ],
    "resolve": [
        (["resolve", "specs/resnet101d.yaml"], 0),
        (["resolve", "resnet50d", "resnet18", "--defaults", "-f", "json"], 0),
    ],
    "schema": [(["schema"], 0), (["schema", "-o", f"{OUT}/schema.json"], 0)],
    "list": [(["list"], 0), (["list", "-f", "json"], 0)],
    "new": [(["new", "fresh", "--from", "resnet18", "-o", OUT], 0)],
}

# Runs `python -m resgen` once per argument list, as `python -m` would, then reports.
_CLI_DRIVER = """
import json, runpy, sys
codes = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["resgen", *argv]
    try:
        runpy.run_module("resgen", run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        codes.append(exit.code)
    else:
        codes.append(0)
print(json.dumps({"codes": codes, "heavy": [m for m in HEAVY if m in sys.modules]}))
"""

# The API functions that need no model, and the probe module's spec-level helper.
_API_CALLS = """
import json, sys
import resgen, resgen.api
resgen.load_spec("resnet50")
resgen.api.check_spec("resnet50")
resgen.compile_source("resnet50")
resgen.summarize("resnet18")
resgen.diff_specs("resnet18", "resnet34")
resgen.json_schema()
import resgen.probe
assert resgen.probe.plain_twin(resgen.load_spec("resnet20").spec).shortcut == "none"
print(json.dumps({"heavy": [m for m in HEAVY if m in sys.modules]}))
"""


def _run(code: str, *args: str) -> dict[str, list[object]]:
    result = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{code}", *args],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, list[object]] = json.loads(result.stdout.splitlines()[-1])
    return report


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_never_imports_torch(command: str, tmp_path: Path) -> None:
    runs = [
        ([a.replace(OUT, str(tmp_path)) for a in argv], code) for argv, code in COMMANDS[command]
    ]
    report = _run(_CLI_DRIVER, json.dumps([argv for argv, _ in runs]))
    assert report["codes"] == [code for _, code in runs], report
    assert report["heavy"] == [], report


def test_api_never_imports_torch() -> None:
    assert _run(_API_CALLS)["heavy"] == []


def test_every_command_but_probe_is_covered() -> None:
    """A new command joins COMMANDS above; `probe` runs models and `infer` reads checkpoints, so
    they may import torch; `sample` draws with numpy (tests/test_sample.py checks it never
    imports torch)."""
    covered = {argv[0] for runs in COMMANDS.values() for argv, _ in runs}
    assert covered == set(CLI_COMMANDS) - {"probe", "infer", "sample"}
