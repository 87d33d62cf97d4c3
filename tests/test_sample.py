"""`resgen sample`: the real CLI on the shipped spaces, determinism, distinctness, the window
against the full analysis, every constraint, and the distributions."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from resgen.pipeline import check
from resgen.sample.dists import Dist, parse_dist
from resgen.sample.draw import NonDecreasing
from resgen.spec.load import load_spec_file
from resgen.spec.source import Source
from tests.conftest import ROOT, run_resgen

REGNETX = "specs/spaces/regnetx_400mf.yaml"
ANYNET = "specs/spaces/anynetx_e.yaml"


def _sample(out: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = run_resgen("sample", *args, "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    document: dict[str, Any] = json.loads((out / "samples.json").read_text())
    return document


def _folder(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def regnetx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("regnetx") / "out"
    return out, _sample(out, REGNETX, "-n", "40", "--seed", "3")


def test_specs_check_and_match_the_table(regnetx: tuple[Path, dict[str, Any]]) -> None:
    """Every written spec passes `resgen check`; the graph analysis of each gives the counts in
    samples.json (so the window holds by the full analysis, not only the closed form)."""
    out, document = regnetx
    done = run_resgen("check", str(out / "specs"))
    assert done.returncode == 0, done.stderr
    assert "checked 40 specs: 0 with errors" in done.stdout
    assert len(document["samples"]) == 40
    for entry in document["samples"]:
        analysis = check(load_spec_file(out / entry["file"]))
        assert (analysis.total_params, analysis.total_macs) == (entry["params"], entry["macs"])
        assert 360_000_000 <= analysis.total_macs <= 400_000_000
        assert len(entry["stages"]) == 4  # num_stages: 4
    csv_lines = (out / "samples.csv").read_text().splitlines()
    assert csv_lines[0].startswith("name,w_0,w_a,w_m,depth,group_width,num_stages,depths,")
    assert len(csv_lines) == 41


def test_a_sampled_spec_builds_draws_and_views(
    regnetx: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from resgen.cli import main

    spec = str(regnetx[0] / "specs" / "regnetx_400mf_0000.yaml")
    assert main(["build", spec, "-o", str(tmp_path)]) == 0
    compile((tmp_path / "regnetx_400mf_0000.py").read_text(), "generated", "exec")
    assert main(["draw", spec, "-f", "dot", "-o", str(tmp_path / "net.dot")]) == 0
    assert main(["view", spec, "-o", str(tmp_path / "net.html")]) == 0


def test_distinct_as_networks(regnetx: tuple[Path, dict[str, Any]]) -> None:
    _, document = regnetx
    networks = [json.dumps(entry["stages"]) for entry in document["samples"]]
    assert len(set(networks)) == len(networks)
    tally = document["tally"]
    assert tally["kept"] == 40
    assert tally["candidates"] == sum(
        tally[k] for k in ("unbuildable", "stage_count", "window", "duplicate", "kept")
    )
    assert 0 < tally["acceptance"] < 0.05


def test_same_output_in_another_process_hash_seed_and_core(
    regnetx: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Byte-identical files from a process with another hash seed pinned to one core; a prefix
    of N is the same networks; another seed gives others."""
    out, document = regnetx
    again = tmp_path / "again"
    command = ["sample", REGNETX, "-n", "40", "--seed", "3", "-o", str(again)]
    if shutil.which("taskset"):
        import subprocess
        import sys

        env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1"}
        subprocess.run(
            ["taskset", "-c", "0", sys.executable, "-m", "resgen", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    else:
        run_resgen(*command, env={"PYTHONHASHSEED": "12345"})
    assert _folder(again) == _folder(out)
    fewer = _sample(tmp_path / "fewer", REGNETX, "-n", "7", "--seed", "3")
    assert fewer["samples"] == document["samples"][:7]
    other = _sample(tmp_path / "other", REGNETX, "-n", "7", "--seed", "4")
    assert other["samples"] != document["samples"][:7]


def test_anynet_constraints_hold_on_every_sample(tmp_path: Path) -> None:
    document = _sample(tmp_path / "e", ANYNET, "-n", "40", "--macs", "200M:600M")
    for entry in document["samples"]:
        drawn, stages = entry["drawn"], entry["stages"]
        assert len(set(drawn["group_width"])) == 1  # shared_group_width
        assert len(set(drawn["bottleneck_ratio"])) == 1  # shared_bottleneck_ratio
        assert drawn["width"] == sorted(drawn["width"])  # non_decreasing_widths
        assert drawn["depth"] == sorted(drawn["depth"])  # non_decreasing_depths
        assert [s["depth"] for s in stages] == drawn["depth"]
        assert 200_000_000 <= entry["macs"] <= 600_000_000  # --macs overrides the file's
        analysis = check(load_spec_file(tmp_path / "e" / entry["file"]))
        assert (analysis.total_params, analysis.total_macs) == (entry["params"], entry["macs"])
    assert document["windows"] == {"macs": [200_000_000, 600_000_000]}
    done = run_resgen("check", str(tmp_path / "e" / "specs"))
    assert done.returncode == 0, done.stderr


def test_every_network_of_a_tiny_space_then_too_few(tmp_path: Path) -> None:
    """2 depths x 2 widths in one stage: exactly 4 networks; a 5th is an error, nothing written."""
    space = tmp_path / "tiny.yaml"
    space.write_text(
        "name: tiny\nstem: {type: simple, width: 8}\nblock: {type: regnet}\n"
        "stages: {count: 1, depth: {choice: [1, 2]}, width: {choice: [8, 16]}, stride: 2,\n"
        "         group_width: 8}\n"
    )
    document = _sample(tmp_path / "four", str(space), "-n", "4")
    networks = {(e["stages"][0]["depth"], e["stages"][0]["width"]) for e in document["samples"]}
    assert networks == {(1, 8), (1, 16), (2, 8), (2, 16)}
    assert document["tally"]["duplicate"] > 0
    done = run_resgen(
        "sample", str(space), "-n", "5", "--max-draws", "5000", "-o", str(tmp_path / "five")
    )
    assert done.returncode == 1
    assert (
        "error[too-few-networks]: only 4 distinct networks in 5,000 candidates, of the 5 "
        "asked for; the candidates had params" in done.stderr
    )
    assert not (tmp_path / "five").exists()


def test_never_imports_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from resgen.cli import main; "
        f"main(['sample', {REGNETX!r}, '-n', '3', '-o', {str(tmp_path / 'o')!r}]); "
        "print([m for m in ('torch', 'torchvision', 'timm') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --- distributions and the exact constrained draws -------------------------------------------


def _dist(text: str) -> Dist:
    import yaml

    value = yaml.safe_load(text)
    parsed = parse_dist(value, ("x",), Source("<t>", text))
    assert isinstance(parsed, Dist), parsed
    return parsed


def test_distributions_weigh_values_as_pycls() -> None:
    uniform = _dist("{uniform: [16, 64], quantum: 8}")
    assert uniform.values == (16, 24, 32, 40, 48, 56, 64)
    assert uniform.weights == pytest.approx([1 / 7] * 7)
    assert _dist("{power2: [1, 32]}").values == (1, 2, 4, 8, 16, 32)
    assert _dist("{power2: [0.25, 1.0]}").values == (0.25, 0.5, 1.0)
    log = _dist("{log_uniform: [8, 32], quantum: 8}")
    # pycls: log-uniform on (8 - 4, 32], rounded up to the quantum
    span = np.log(32) - np.log(4)
    expected = [
        np.log(8 / 4) / span,
        np.log(16 / 8) / span,
        np.log(24 / 16) / span,
        np.log(32 / 24) / span,
    ]
    assert log.weights == pytest.approx(expected)
    assert _dist("{log_uniform: [2.0, 3.0], quantum: 0.001}").values[:2] == (2.0, 2.001)
    choice = _dist("{choice: [4, 1, 4]}")
    assert choice.values == (1, 4) and choice.weights == pytest.approx([1 / 3, 2 / 3])


def test_non_decreasing_draws_are_exactly_the_conditioned_independent_draws() -> None:
    """The stage-by-stage draws against the enumerated law of independent draws kept only when
    they do not decrease (what rejection would give): every sequence's frequency in 200,000."""
    stages = [
        _dist("{uniform: [1, 4]}"),
        _dist("{log_uniform: [1, 5]}"),
        _dist("{choice: [2, 3, 3, 5]}"),
    ]
    law: dict[tuple[int, ...], float] = {}
    for values in itertools.product(*(d.values for d in stages)):
        if list(values) == sorted(values):
            law[values] = float(
                np.prod([d.weights[d.values.index(v)] for d, v in zip(stages, values, strict=True)])
            )
    total = sum(law.values())
    sampler = NonDecreasing(stages)
    u = np.random.Generator(np.random.PCG64(0)).random((200_000, 3))
    drawn = sampler.pick(u)
    seen: dict[tuple[int, ...], int] = {}
    for row in map(tuple, drawn.tolist()):
        seen[row] = seen.get(row, 0) + 1
    assert set(seen) <= set(law)
    for values, p in law.items():
        assert seen.get(values, 0) / len(u) == pytest.approx(p / total, abs=0.004), values


# --- pictures ---------------------------------------------------------------------------------


def test_plot_and_compare_with_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--plot adds complexity.png; --compare draws two runs with their errors into one PNG."""
    from resgen.cli import main

    document = _sample(tmp_path / "x", REGNETX, "-n", "12", "--macs", "300M:500M", "--plot")
    assert (tmp_path / "x" / "complexity.png").read_bytes().startswith(b"\x89PNG")
    assert (
        main(["sample", ANYNET, "-n", "12", "--macs", "300M:500M", "-o", str(tmp_path / "e")]) == 0
    )
    runs = []
    for name in ("x", "e"):
        table = json.loads((tmp_path / name / "samples.json").read_text())
        rows = [f"{s['name']},{30 + s['macs'] / 1e8:.3f}" for s in table["samples"]]
        (tmp_path / f"{name}.csv").write_text("name,error\n" + "\n".join(rows) + "\n")
        runs += [str(tmp_path / name / "samples.json"), str(tmp_path / f"{name}.csv")]
    assert len(document["samples"]) == 12
    args = ["sample", "--compare", runs[0], runs[2], "--results", runs[1], runs[3], "-o"]
    assert main([*args, str(tmp_path / "cmp.png")]) == 0
    assert (tmp_path / "cmp.png").read_bytes().startswith(b"\x89PNG")
    Path(runs[3]).write_text("name,error\nnobody,1.0\n")
    capsys.readouterr()
    assert main([*args, str(tmp_path / "bad.png")]) == 1
    report = capsys.readouterr().err
    assert "error[bad-results]" in report and "hint: give every network" in report
    assert not (tmp_path / "bad.png").exists()


def test_complexity_normalised_weights_match_the_bins() -> None:
    """Every bin both runs reach holds the same weight in each; a bin only one reaches, none."""
    from resgen.sample.plot import Run, normalised_weights

    crowded = Run("a", ("",) * 6, np.array([1e8, 1e8, 1e8, 1e8, 4e8, 9e8]))
    sparse = Run("b", ("",) * 3, np.array([1e8, 4e8, 4e8]))
    heavy, light = normalised_weights([crowded, sparse])
    assert heavy.tolist() == pytest.approx([0.125] * 4 + [0.5, 0.0])
    assert light.tolist() == pytest.approx([0.5, 0.25, 0.25])


def test_params_and_acts_windows(tmp_path: Path) -> None:
    from resgen.cli import main

    out = tmp_path / "w"
    args = ["sample", REGNETX, "-n", "10", "--params", "3M:6M", "--acts", ":2.5M", "-o", str(out)]
    assert main(args) == 0
    document = json.loads((out / "samples.json").read_text())
    assert document["windows"] == {
        "macs": [360_000_000, 400_000_000],  # the file's, kept
        "params": [3_000_000, 6_000_000],
        "acts": [None, 2_500_000],
    }
    for entry in document["samples"]:
        assert 3_000_000 <= entry["params"] <= 6_000_000 and entry["acts"] <= 2_500_000
        assert 360_000_000 <= entry["macs"] <= 400_000_000


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_stdout_prints_the_table_in_the_format_asked(tmp_path: Path, fmt: str) -> None:
    """Without -o, `-f csv` (the default) prints samples.csv and `-f json` samples.json: the
    same bytes that -o DIR writes."""
    _sample(tmp_path / "out", REGNETX, "-n", "3")
    printed = run_resgen("sample", REGNETX, "-n", "3", "-f", fmt)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == (tmp_path / "out" / f"samples.{fmt}").read_text(encoding="utf-8")
