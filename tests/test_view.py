"""`resgen view`: the page is written whole and deterministically, and works in a real browser.

The browser tests drive Debian's Chromium headless through Playwright (`make test` installs
Chromium with apt when it is missing; Playwright never downloads a browser here). They assert on
the DOM: ids are state_dict paths, numbers are `resgen info`'s. One screenshot per run is saved
under pytest's temporary folder for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_resgen

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
BROKEN = ROOT / "tests/golden/specs/broken_identity.yaml"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """resnet50, resnet1202 and the broken spec's pages, built once for the module."""
    out = tmp_path_factory.mktemp("view")
    built = {}
    for name, spec in [
        ("resnet50", "resnet50"),
        ("resnet1202", "resnet1202"),
        ("broken", str(BROKEN)),
    ]:
        done = run_resgen("view", spec, "-o", str(out / f"{name}.html"))
        assert done.returncode == (1 if name == "broken" else 0), done.stderr
        built[name] = out / f"{name}.html"
    return built


def test_page_is_deterministic_and_self_contained(pages: dict[str, Path], tmp_path: Path) -> None:
    again = run_resgen(
        "view", "resnet50", "-o", str(tmp_path / "x.html"), env={"PYTHONHASHSEED": "7"}
    )
    assert again.returncode == 0, again.stderr
    text = pages["resnet50"].read_text("utf-8")
    assert (tmp_path / "x.html").read_text("utf-8") == text
    assert "http://" not in text.replace("http://www.w3.org/", "")
    assert (
        "https://" not in text
        and "<script src" not in text
        and '<link rel="stylesheet"' not in text
    )


def test_mistakes_give_diagnostics_and_no_file(tmp_path: Path) -> None:
    stdout = run_resgen("view", "resnet18", "-o", "-")
    assert stdout.returncode == 2 and "error[needs-file]" in stdout.stderr
    wrong = run_resgen("view", "resnet18", "-o", str(tmp_path / "x.svg"))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    missing = run_resgen("view", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "n.html"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    no_dot = run_resgen(
        "view", "resnet18", "-o", str(tmp_path / "d.html"), env={"PATH": "/nonexistent"}
    )
    assert no_dot.returncode == 1 and "error[no-graphviz]" in no_dot.stderr
    slow = run_resgen("view", "resnet18", "-o", str(tmp_path / "t.html"), "--timeout", "1e-9")
    assert slow.returncode == 1 and "error[render-failed]" in slow.stderr
    assert list(tmp_path.iterdir()) == []


def test_folder_output_names_the_page(tmp_path: Path) -> None:
    done = run_resgen("view", "resnet18", "resnet20", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resnet18.html", "resnet20.html"]


def _info(*args: str) -> Any:
    done = run_resgen("info", *args, "-f", "json")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


# ---------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs it: apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield chrome
        chrome.close()


class Page:
    """One page with its request log and console errors."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.url = path.as_uri()
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(self.url)
        self.page.wait_for_selector("#canvas svg")

    def first_paint(self) -> float:
        """When the page first painted, in ms (the entry may land just after the load event)."""
        entry = "performance.getEntriesByName('first-contentful-paint')"
        self.page.wait_for_function(f"{entry}.length > 0")
        return float(self.page.evaluate(f"{entry}[0].startTime"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def clean(self) -> None:
        assert self.errors == []
        assert self.requests == [self.url]  # the file itself, nothing else

    def field(self, name: str) -> str:
        return str(self.page.inner_text(f'#panel dd[data-field="{name}"]'))

    def ids(self) -> list[str]:
        return list(self.page.eval_on_selector_all("g.node", "gs => gs.map(g => g.id)"))

    def edge_texts(self) -> str:
        return str(self.page.eval_on_selector_all("g.edge", "es => es.map(e => e.textContent)"))

    def shortcuts_labelled(self) -> None:
        """Every shortcut arc of the drawing says its kind (identity or projection)."""
        arcs = self.page.eval_on_selector_all(
            "g.edge",
            "es => es.map(e => [e.id, e.querySelector('path').getAttribute('stroke'),"
            " e.textContent])",
        )
        cuts = [(i, t) for i, stroke, t in arcs if stroke in ("#666666", "#d95f02")]
        # an arc that is not labelled with its kind runs into or out of a projection's ops
        bare = [i for i, t in cuts if "identity" not in t and "projection" not in t]
        assert cuts and all("shortcut" in i or "downsample" in i for i in bare), bare

    def search(self, path: str) -> None:
        self.page.fill("#q", path)
        self.page.press("#q", "Enter")


def test_resnet50_in_the_browser(
    browser: Any, pages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    view = Page(browser, pages["resnet50"])
    page = view.page
    paint = view.first_paint()
    print(f"first paint resnet50: {paint:.0f} ms")
    _expands_in_place(view)
    # Hovering a downsample conv shows its shape and params; its block's equal `info --per-block`.
    view.search("layer2.0.downsample.0")
    page.hover("g.node[id='layer2.0.downsample.0']")
    assert view.field("output") == "512x28x28"
    assert view.field("params") == f"{256 * 512:,}"
    per_block = _info("resnet50", "--per-block")
    layer2 = next(s for s in per_block["stages"] if s["name"] == "layer2")
    block = next(b for b in layer2["per_block"] if b["name"] == "layer2.0")
    assert view.field("block params") == f"{block['params']:,}"
    assert view.field("block MACs") == f"{block['macs']:,}"
    # Selecting highlights the node's edges and its block's residual add.
    page.click("g.node[id='layer2.0.downsample.0']")
    assert "nbr" in (page.get_attribute("g.node[id='layer2.0.add']", "class") or "")
    # Search finds a path inside a collapsed run and focuses it.
    view.search("layer3.4.conv2")
    assert page.evaluate("document.activeElement.id") == "layer3.4.conv2"
    assert view.field("path") == "layer3.4.conv2"
    # The side table has `info`'s numbers.
    rows = page.eval_on_selector_all(
        "#stages tbody tr", "rs => rs.map(r => r.innerText.split('\\t'))"
    )
    for stage, row in zip(_info("resnet50")["stages"], rows, strict=False):
        output = "x".join(map(str, stage["output"]))
        assert row == [stage["name"], str(stage["blocks"]), output, f"{stage['params']:,}",
                       f"{stage['macs']:,}"]  # fmt: skip
    shot = tmp_path_factory.mktemp("screenshot") / "resnet50-view.png"
    view.search("layer3.4")
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    view.clean()


STAGES = ["stem", "layer1", "layer2", "layer3", "layer4", "head"]


def _expands_in_place(view: Page) -> None:
    """Open layer3 alone, then its `x 5` run, then close both; shortcuts stay labelled."""
    page = view.page
    assert view.ids() == ["input", *STAGES, "output"]  # the page opens at the stage level
    view.shortcuts_labelled()
    page.dblclick("g.node[id='layer3']")
    blocks = ["layer3.0", "layer3.0.shortcut", "layer3.0.add", "layer3.1-5", "layer3.1-5.add"]
    assert view.ids() == ["input", "stem", "layer1", "layer2", *blocks, "layer4", "head", "output"]
    view.shortcuts_labelled()
    page.dblclick("g.node[id='layer3.1-5']")  # the run's ops replace it; the rest stays
    ids = view.ids()
    assert ids[:7] == ["input", "stem", "layer1", "layer2", *blocks[:3]]
    assert ids[-3:] == ["layer4", "head", "output"]
    ops = [i for i in ids if i.startswith("layer3.1.")]
    assert {"layer3.1.conv1", "layer3.1.conv3", "layer3.1.add"} <= set(ops) and len(ops) == 10
    assert not any(i.startswith(("layer1.", "layer2.", "layer4.")) for i in ids)
    assert "\u00d7 5" in view.edge_texts()  # the run's repeats, as an arc
    view.shortcuts_labelled()
    page.keyboard.press("Backspace")  # back to the block level of layer3, the run focused
    assert view.ids() == ["input", "stem", "layer1", "layer2", *blocks, "layer4", "head", "output"]
    assert page.evaluate("document.activeElement.id") == "layer3.1-5"
    page.dblclick("g.node[id='layer3.0']")  # a double-click inside an open stage closes it
    page.dblclick("g.node[id='layer3.0.conv1']")
    assert view.ids() == ["input", "stem", "layer1", "layer2", *blocks, "layer4", "head", "output"]
    page.click("g.cluster[id='cluster:layer3'] .toggle")  # the visible control closes it too
    assert view.ids() == ["input", *STAGES, "output"]
    # The panel's button and the visible control open a stage and a run in place.
    page.click("g.node[id='layer2']")
    page.click("#panel #expand")
    assert "layer2.1-3" in view.ids() and "layer3" in view.ids()
    page.click("g.node[id='layer2.1-3'] .toggle")
    assert "layer2.2.conv2" not in view.ids() and "layer2.1.conv2" in view.ids()


SCALE = (
    "document.getElementById('canvas').clientWidth / document.querySelector('#canvas svg')"
    ".viewBox.baseVal.width"
)


def test_keyboard_zoom_and_legibility(browser: Any, pages: dict[str, Path]) -> None:
    view = Page(browser, pages["resnet50"])
    page = view.page
    assert page.evaluate(SCALE) >= 0.8  # text at 11 pt stays readable at the default zoom
    # Keyboard: Tab reaches nodes, Enter opens a stage then a run, Backspace collapses back to it.
    page.focus("#canvas")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('node')")
    page.focus("g.node[id='layer1']")
    page.keyboard.press("Enter")
    page.focus("g.node[id='layer1.1-2']")
    stroke = "getComputedStyle(document.activeElement.querySelector('path, polygon')).strokeWidth"
    assert page.evaluate(stroke) == "3px"  # visible focus
    page.keyboard.press("Enter")
    assert page.query_selector("g.node[id='layer1.1.conv1']") is not None
    page.keyboard.press("Backspace")
    assert page.evaluate("document.activeElement.id") == "layer1.1-2"
    # Zoom with keys, the wheel and the buttons; 0 and Fit show the whole drawing.
    before = page.evaluate(SCALE)
    page.keyboard.press("+")
    zoomed_in = page.evaluate(SCALE)
    assert zoomed_in > before
    page.mouse.move(300, 300)
    page.mouse.wheel(0, 400)  # wheel events arrive asynchronously: wait for this one's effect
    page.wait_for_function(f"{SCALE} < {zoomed_in}")
    zoomed_out = page.evaluate(SCALE)
    page.click("#zoom-in")
    assert page.evaluate(SCALE) > zoomed_out
    page.click("#fit")
    whole = "document.querySelector('#canvas svg').getAttribute('viewBox').split(' ')[3]"
    assert float(page.evaluate(whole)) == page.evaluate(
        "document.querySelector('#canvas svg').viewBox.baseVal.height"
    )
    view.clean()


def test_resnet1202_first_paint_and_expand(browser: Any, pages: dict[str, Path]) -> None:
    view = Page(browser, pages["resnet1202"])
    paint = view.first_paint()
    print(f"first paint resnet1202: {paint:.0f} ms")
    view.page.dblclick("g.node[id='layer2']")
    view.page.dblclick("g.node[id='layer2.1-199']")
    assert view.page.query_selector("g.node[id='layer2.1.conv1']") is not None
    view.search("layer2.150.bn2")
    assert view.page.evaluate("document.activeElement.id") == "layer2.150.bn2"
    view.page.keyboard.press("Backspace")
    assert view.page.query_selector("g.node[id='layer2.1-199']") is not None
    view.clean()


def test_broken_spec_lists_errors_that_focus_the_add(browser: Any, pages: dict[str, Path]) -> None:
    view = Page(browser, pages["broken"])
    items = view.page.query_selector_all("#error-list li")
    assert len(items) == 2
    assert "broken_identity.yaml:7:5" in items[0].inner_text()
    items[0].click()
    focused = view.page.evaluate("document.activeElement.id")
    assert focused.startswith("layer2.0") and focused.endswith("add")
    tooltip = f"document.getElementById('{focused}').querySelector('title').textContent"
    assert "broken_identity.yaml:7:5: error[shortcut-shape]" in view.page.evaluate(tooltip)
    assert view.page.inner_text("#panel").count("error[shortcut-shape]") == 1
    # The add and both its incoming edges are marked (Graphviz draws them in the error colour).
    red = "[stroke='#d62728']"
    assert view.page.query_selector(f"g.node[id='{focused}'] {red}") is not None
    assert len(view.page.query_selector_all(f"g.edge[id$='->{focused}'] path{red}")) == 2
    items[1].click()
    assert view.page.evaluate("document.activeElement.id").startswith("layer3.0")
    # The block level of the open stage marks the same add, the stage level both stages.
    view.page.keyboard.press("Backspace")
    assert view.page.query_selector(f"g.node[id='layer3.0.add'] {red}") is not None
    view.page.keyboard.press("Backspace")
    for stage in ("layer2", "layer3"):
        assert view.page.query_selector(f"g.node[id='{stage}'] {red}") is not None
    view.page.click("#open-all")
    assert view.page.query_selector(f"g.node[id='layer2.0.add'] {red}") is not None
    view.clean()


@pytest.mark.slow
def test_every_shipped_spec_views(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    done = run_resgen("view", "specs", "-o", str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("*.html"))) == len(list((ROOT / "specs").glob("*.yaml")))
