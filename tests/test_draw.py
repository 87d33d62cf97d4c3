"""`resgen draw`: DOT structure per detail level, golden DOT files, real renders, the CLI.

To accept new DOT output after a deliberate change (see tests/golden.py):
    RESGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_draw.py
"""

from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from resgen.checks import Analysis
from resgen.draw import build_drawing, draw_dot
from resgen.draw.dot import Drawing, Edge, Node
from resgen.draw.labels import ERROR, SHORTCUT_LINE
from resgen.graph import ir
from resgen.pipeline import check
from resgen.spec.load import LoadedSpec, load_spec_file
from tests.conftest import ROOT, SPECS, run_resgen
from tests.golden import assert_golden

GOLDEN = ROOT / "tests" / "golden"
GOLDEN_SPECS = GOLDEN / "specs"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")


def load(path: Path) -> tuple[LoadedSpec, Analysis]:
    loaded = load_spec_file(path, path.relative_to(ROOT).as_posix())
    return loaded, check(loaded)


def drawing(path: Path, detail: str = "block") -> Drawing:
    return build_drawing(*load(path), detail)


def spec_path(name: str) -> Path:
    path = SPECS / f"{name}.yaml"
    return path if path.is_file() else GOLDEN_SPECS / f"{name}.yaml"


def edges_into(d: Drawing, node: str) -> list[Edge]:
    return [e for e in d.edges if e.dst == node]


def node_ids(d: Drawing) -> list[str]:
    return [n.id for n in d.nodes()]


def run_size(run: str) -> int:
    """Blocks in a drawn run: `layer3.0` is 1, `layer3.1-35` is 35."""
    first, _, last = run.rsplit(".", 1)[1].partition("-")
    return int(last) - int(first) + 1 if last else 1


# --- golden DOT --------------------------------------------------------------------------------

GOLDEN_CASES = [
    ("resnet18", "stage"),
    ("resnet18", "block"),
    ("resnet18", "op"),
    ("resnet50", "block"),
    ("se_projection", "block"),
    ("preact_pad", "block"),
    ("broken_identity", "block"),
    ("broken_identity", "op"),
]


@pytest.mark.parametrize(
    ("name", "detail"), GOLDEN_CASES, ids=[f"{n}-{d}" for n, d in GOLDEN_CASES]
)
def test_dot_matches_golden(name: str, detail: str) -> None:
    text = draw_dot(*load(spec_path(name)), detail)
    assert_golden(text, GOLDEN / f"{name}.{detail}.dot")


def test_dot_is_deterministic_across_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "1", "4242"):
        result = run_resgen(
            "draw", "specs/resnet50.yaml", "-o", "-", "--detail", "op",
            env={"PYTHONHASHSEED": seed},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1


# --- block detail ------------------------------------------------------------------------------

# name -> (drawn nodes, drawn edges): input, stem, head, output, and per stage a first block
# (branch, projection, add) then the identical rest as one branch and one add.
# Edges include one `x N` loop per collapsed run (resnet18: layer1.0-1; the others: 4 runs).
BLOCK_COUNTS = {"resnet18": (21, 28), "resnet50": (24, 35), "resnet152": (24, 35)}


@pytest.mark.parametrize("name", sorted(BLOCK_COUNTS))
def test_block_detail_counts(name: str) -> None:
    d = drawing(spec_path(name))
    assert (len(d.nodes()), len(d.edges)) == BLOCK_COUNTS[name]


@pytest.mark.parametrize("name", ["resnet50", "resnet152", "se_projection", "preact_pad"])
def test_block_detail_structure(name: str) -> None:
    loaded, analysis = load(spec_path(name))
    d = build_drawing(loaded, analysis, "block")
    stages = ir.stages_of(analysis.graph)
    # One cluster per stage, labelled with its name, block count, shape and params.
    assert [c.id for c in d.clusters()] == [s.name for s in stages]
    rows = {row.name: row for row in analysis.rows()}
    for cluster in d.clusters():
        depth = rows[cluster.id].blocks
        assert f"<b>{cluster.id}</b> \u00b7 {depth} block" in cluster.label
        assert "params" in cluster.label and "MACs" in cluster.label
    # Every drawn block run has its add; the collapsed runs add up to the stage's depth.
    ids = node_ids(d)
    for stage in stages:
        runs = [i for i in ids if re.fullmatch(rf"{stage.name}\.\d+(-\d+)?", i)]
        assert all(f"{run}.add" in ids for run in runs)
        assert sum(run_size(run) for run in runs) == len(stage.blocks)
        # The first block (unless it is like the rest), then all the identical rest.
        assert 1 <= len(runs) <= 2, runs
    # Params and MACs in every node but the input, output and the add circles.
    for node in d.nodes():
        if node.id not in ("input", "output") and not node.id.endswith(".add"):
            assert "params" in node.label and "MACs" in node.label, node.id


def test_collapsed_runs_are_marked_x_n() -> None:
    d = drawing(SPECS / "resnet152.yaml")
    labels = {n.id: n.label for n in d.nodes()}
    for run, n in (("layer1.1-2", 2), ("layer2.1-7", 7), ("layer3.1-35", 35), ("layer4.1-2", 2)):
        assert f"\u00d7 {n}</b>" in labels[run]
        assert labels[run].count("1x1 conv") == 2  # drawn once, not n times
    # Each of the N blocks has its own shortcut and add: a stacked add, the identity arc into it
    # says `x N`, and a loop from the add back to the body says the whole block repeats N times.
    attrs = {n.id: n.attrs for n in d.nodes()}
    edges = {(e.src, e.dst): e.attrs for e in d.edges}
    for run, n in (("layer1.1-2", 2), ("layer2.1-7", 7), ("layer3.1-35", 35), ("layer4.1-2", 2)):
        assert attrs[run]["peripheries"] == "2" and attrs[f"{run}.add"]["peripheries"] == "2"
        loop = edges[(f"{run}.add", run)]
        assert loop["label"] == f"<b>\u00d7 {n}</b>" and loop["constraint"] == "false"
        stage = run.split(".")[0]
        arc = edges[(f"{stage}.0.add", f"{run}.add")]
        assert arc["label"].startswith(f"<i>identity</i> \u00d7 {n}<br/>"), arc
    # A single block keeps one add, one shortcut and no loop.
    assert "peripheries" not in attrs["layer1.0.add"]
    assert not any(dst == src.removesuffix(".add") for src, dst in edges if src == "layer1.0.add")
    projection = edges[("layer1.0.shortcut", "layer1.0.add")]["label"]
    assert projection.startswith("<i>projection</i><br/>")


def test_shortcut_styles() -> None:
    d = drawing(SPECS / "resnet50.yaml")
    identity = [e for e in d.edges if "<i>identity</i>" in e.attrs.get("label", "")]
    projection = [e for e in d.edges if "<i>projection</i>" in e.attrs.get("label", "")]
    assert len(identity) == 4 and len(projection) == 4  # one of each per stage
    assert all("style" not in e.attrs for e in identity)
    dashed = [e for e in d.edges if e.attrs.get("style") == "dashed"]
    assert len(dashed) == 8  # into and out of each projection
    assert all(e.attrs["color"] == SHORTCUT_LINE for e in dashed)
    shortcut_nodes = [n for n in d.nodes() if n.id.endswith(".shortcut")]
    assert len(shortcut_nodes) == 4
    assert all("dashed" in n.attrs["style"] for n in shortcut_nodes)


def test_zero_pad_shortcut_is_named() -> None:
    d = drawing(GOLDEN_SPECS / "preact_pad.yaml")
    pads = [e for e in d.edges if "<i>zero-pad</i>" in e.attrs.get("label", "")]
    assert len(pads) == 2 and all(e.attrs["style"] == "dashed" for e in pads)


def test_shapes_on_every_edge() -> None:
    loaded, analysis = load(SPECS / "resnet50.yaml")
    for detail in ("stage", "block", "op"):
        d = build_drawing(loaded, analysis, detail)
        for edge in d.edges:
            if edge.src == f"{edge.dst}.add":  # a run's `x N` loop: no tensor of its own
                assert re.fullmatch(r"<b>\u00d7 \d+</b>", edge.attrs["label"]), edge
                assert edge.attrs["label"] == f"<b>\u00d7 {run_size(edge.dst)}</b>", edge
                continue
            shape = edge.attrs["label"].split("<br/>")[-1]
            assert re.fullmatch(r"(\d+x)*\d+", shape), edge


def test_title_has_totals_and_convention() -> None:
    loaded, analysis = load(SPECS / "resnet50.yaml")
    title = build_drawing(loaded, analysis).title
    assert f"{analysis.total_params:,} params" in title
    assert f"{analysis.total_macs:,} MACs" in title
    assert "multiply-adds" in title and "ResNet50" in title


def test_thousand_layer_spec_draws_as_small_as_resnet50() -> None:
    deep = drawing(GOLDEN_SPECS / "deep1001.yaml")
    r50 = drawing(SPECS / "resnet50.yaml")
    assert len(deep.nodes()) <= len(r50.nodes())
    assert len(deep.edges) <= len(r50.edges)
    assert "\u00d7 110</b>" in next(n.label for n in deep.nodes() if n.id == "layer2.1-110")


# --- stage and op detail -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet18", "resnet152", "preact_pad"])
def test_stage_detail_is_one_node_per_stage(name: str) -> None:
    loaded, analysis = load(spec_path(name))
    d = build_drawing(loaded, analysis, "stage")
    stages = [row.name for row in analysis.rows()]  # stem, layer1..N, head
    assert node_ids(d) == ["input", *stages, "output"]
    assert len(d.edges) == len(stages) + 1
    assert d.clusters() == []


@pytest.mark.parametrize("name", ["resnet18", "resnet152", "se_projection", "preact_pad"])
def test_op_detail_draws_every_node_in_its_clusters(name: str) -> None:
    loaded, analysis = load(spec_path(name))
    graph = analysis.graph
    d = build_drawing(loaded, analysis, "op")
    assert sorted(node_ids(d)) == sorted([*graph.nodes, "output"])
    assert len(d.edges) == graph.number_of_edges() + 1
    blocks = ir.blocks_of(graph)
    stages = {row.name for row in analysis.rows()}
    top = [c for c in d.items if not isinstance(c, Node)]
    assert {c.id for c in top} == stages
    nested = {c.id for c in d.clusters()} - stages
    assert nested == {b.path for b in blocks}
    adds = [n for n in d.nodes() if n.id in graph and ir.node(graph, n.id).kind == ir.ADD]
    assert len(adds) == sum(1 for b in blocks if b.add) and all(
        n.attrs["shape"] == "circle" for n in adds
    )


# --- a spec that fails its checks still draws --------------------------------------------------


@pytest.mark.parametrize("detail", ["block", "op"])
def test_broken_spec_marks_the_offending_adds(detail: str) -> None:
    loaded, analysis = load(GOLDEN_SPECS / "broken_identity.yaml")
    assert any(d.is_error for d in analysis.diagnostics)
    d = build_drawing(loaded, analysis, detail)
    red = [n for n in d.nodes() if n.attrs.get("color") == ERROR]
    assert [n.id for n in red] == ["layer2.0.add", "layer3.0.add"]
    mismatches = (("128x28x28", "64x56x56"), ("256x14x14", "128x28x28"))
    for node, shapes in zip(red, mismatches, strict=True):
        ins = edges_into(d, node.id)
        assert len(ins) == 2 and all(e.attrs["color"] == ERROR for e in ins)
        labels = " ".join(e.attrs["label"] for e in ins)
        assert all(shape in labels for shape in shapes)
    assert sum(1 for e in d.edges if e.attrs.get("color") == ERROR) == 4
    assert "2 errors" in d.title and "residual branch gives 128x28x28" in d.title


def test_broken_spec_marks_its_stages() -> None:
    d = drawing(GOLDEN_SPECS / "broken_identity.yaml", "stage")
    red = [n.id for n in d.nodes() if n.attrs.get("color") == ERROR]
    assert red == ["layer2", "layer3"]


def test_broken_spec_cli_draws_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "broken.dot"
    result = run_resgen("draw", "tests/golden/specs/broken_identity.yaml", "-o", str(out))
    assert result.returncode == 1
    assert "error[shortcut-shape]" in result.stderr and "Traceback" not in result.stderr
    assert ERROR in out.read_text()


# --- real renders ------------------------------------------------------------------------------


def svg_titles(path: Path) -> tuple[list[str], list[str]]:
    """Node titles and edge titles of an SVG written by dot."""
    ns = {"svg": "http://www.w3.org/2000/svg"}
    root = ET.parse(path).getroot()
    titles = {"node": [], "edge": []}  # type: dict[str, list[str]]
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        kind = group.get("class")
        title = group.find("svg:title", ns)
        if kind in titles and title is not None and title.text:
            titles[kind].append(title.text)
    return titles["node"], titles["edge"]


@needs_dot
def test_render_svg_block_detail(tmp_path: Path) -> None:
    out = tmp_path / "resnet152.svg"
    result = run_resgen("draw", "specs/resnet152.yaml", "-o", str(out))
    assert result.returncode == 0, result.stderr
    nodes, edges = svg_titles(out)
    for expected in ("input", "stem", "layer1.0", "layer1.0.shortcut", "layer3.1-35",
                     "layer3.1-35.add", "head", "output"):  # fmt: skip
        assert expected in nodes
    assert len(nodes) == 24 and len(edges) == 35
    assert "layer3.0.add->layer3.1-35" in edges
    assert "layer3.1-35.add->layer3.1-35" in edges  # the `x 35` loop


@needs_dot
def test_render_resnet152_op_detail(tmp_path: Path) -> None:
    _, analysis = load(SPECS / "resnet152.yaml")
    out = tmp_path / "op.svg"
    start = time.perf_counter()
    result = run_resgen("draw", "specs/resnet152.yaml", "--detail", "op", "-o", str(out))
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    nodes, edges = svg_titles(out)
    assert len(nodes) == analysis.graph.number_of_nodes() + 1
    assert len(edges) == analysis.graph.number_of_edges() + 1
    assert "layer3.35.conv2" in nodes
    print(f"resnet152 op detail: {elapsed:.2f}s, {out.stat().st_size:,} bytes of SVG")


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_render_png_and_pdf(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"r18{suffix}"
    result = run_resgen("draw", "resnet18", "-o", str(out), "--detail", "stage")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(magic)


# --- the CLI -----------------------------------------------------------------------------------


@needs_dot
def test_cli_default_output_and_idempotence(tmp_path: Path) -> None:
    first = run_resgen("draw", "resnet50", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "wrote resnet50.svg (block detail)" in first.stderr
    again = run_resgen("draw", "resnet50", cwd=tmp_path)
    assert "unchanged resnet50.svg" in again.stderr
    into_dir = run_resgen("draw", "resnet18", "-o", "pics/", "--rankdir", "LR", cwd=tmp_path)
    assert into_dir.returncode == 0, into_dir.stderr
    assert sorted(p.name for p in tmp_path.rglob("*.svg")) == ["resnet18.svg", "resnet50.svg"]


def test_cli_dot_output_and_rankdir(tmp_path: Path) -> None:
    out = tmp_path / "r.dot"
    result = run_resgen("draw", "resnet18", "-o", str(out), "--rankdir", "LR")
    assert result.returncode == 0, result.stderr
    assert 'rankdir="LR"' in out.read_text()
    stdout = run_resgen("draw", "resnet18", "-o", "-", "--detail", "stage")
    assert stdout.stdout.startswith('digraph "resnet18" {')


def test_cli_user_mistakes(tmp_path: Path) -> None:
    bad_ext = run_resgen("draw", "resnet18", "-o", str(tmp_path / "x.jpg"))
    assert bad_ext.returncode == 2 and "error[unknown-format]" in bad_ext.stderr
    assert "hint: end the file name in .svg, .png, .pdf or .dot" in bad_ext.stderr
    no_ext = run_resgen("draw", "resnet18", "-o", str(tmp_path / "drawing"))
    assert no_ext.returncode == 2 and "no extension" in no_ext.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = run_resgen("draw", "resnet18", "-o", str(blocker / "x.dot"))
    assert unwritable.returncode == 1 and "error[unwritable]" in unwritable.stderr
    missing = run_resgen("draw", "resnt18")
    assert missing.returncode == 1 and "error[no-such-spec]" in missing.stderr
    usage = run_resgen("draw", "resnet18", "--detail", "everything")
    assert usage.returncode == 2
    for result in (bad_ext, no_ext, unwritable, missing, usage):
        assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [blocker]


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_cli_without_graphviz_writes_dot_and_fails(tmp_path: Path, suffix: str) -> None:
    """The user asked for a picture and did not get one: exit 1, after writing the DOT text."""
    empty = tmp_path / "bin"
    empty.mkdir()
    out = f"r{suffix}"
    result = run_resgen("draw", "resnet18", "-o", out, cwd=tmp_path, env={"PATH": str(empty)})
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error[no-graphviz]" in line]
    assert len(errors) == 1 and errors[0].startswith(f"{out}: error[no-graphviz]")
    assert "wrote the DOT text to r.dot" in errors[0]
    assert "hint: install Graphviz" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "r.dot").read_text().startswith('digraph "resnet18"')
    assert not (tmp_path / out).exists()


def test_cli_dot_output_needs_no_graphviz(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_resgen("draw", "resnet18", "-o", "r.dot", cwd=tmp_path, env={"PATH": str(empty)})
    assert result.returncode == 0, result.stderr
    assert result.stderr == "wrote r.dot (block detail)\n"
    assert (tmp_path / "r.dot").read_text().startswith('digraph "resnet18"')
