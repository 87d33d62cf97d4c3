"""Nothing in a spec names Python code (issue 23): config-injection payloads are refused.

The payloads are those of the declarative model formats' advisories: dunder and attribute
chains (`__class__.__mro__`), `__import__('os').system(...)`, `eval`/`exec`, lambda text, module
and class paths as op types (`torch.nn.Conv2d`, `os.system`) and PyYAML's python tags. Each goes
into every place a user block's spec holds a value (op types and kinds, op names, expressions,
inputs and wiring, params, block and class names), and each is refused with a diagnostic at its
line, never run: the payloads would create a sentinel file, which must not exist afterwards. Some
go through the real CLI (exit status 1, a `file:line:col: error[...]` line, no traceback).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import resgen
from resgen.api import check_spec, load_module
from resgen.diagnostics import ResgenError
from tests.conftest import run_resgen

SENTINEL = "resgen-injection-sentinel"


def _payloads(sentinel: Path) -> list[str]:
    """Expression and name payloads; those that would run something touch `sentinel`."""
    touch = f"touch {sentinel}"
    return [
        f"__import__('os').system('{touch}')",
        "__class__",
        "__class__.__mro__",
        "in_channels.__class__.__mro__[1].__subclasses__()",
        "().__class__.__bases__[0].__subclasses__()",
        f"lambda: __import__('os').system('{touch}')",
        f"eval(\"__import__('os').system('{touch}')\")",
        f"exec('import os; os.system(\"{touch}\")')",
        f"open('{sentinel}', 'w')",
        "getattr(in_channels, 'real')",
        "globals()",
        "__builtins__",
        "os.system",
        "torch.nn.Conv2d",
        "[c for c in ()]",
        "f'{in_channels}'",
        "(y := 1)",
        "in_channels if 1 else 2",
        "max(*[1, 2])",
        "make_divisible(value=8, divisor=4)",
        "log2.__globals__",
        "log2(value=in_channels)",
        "min.__call__(1, 2)",
        "2 ** 100",
        "~in_channels",
        "1.5",
        "'text'",
        "import os",
        "in_channels; import os",
    ]


BASE: dict[str, Any] = {
    "name": "victim",
    "input": {"size": 16},
    "stem": {"type": "cifar", "width": 8},
    "blocks": {
        "b": {
            "params": {"k": {"default": 1}},
            "ops": [
                {"op": "conv", "name": "c1", "out": "mid_channels", "kernel": 3,
                 "stride": "stride"},
                {"op": "norm", "name": "n1"},
                {"op": "act", "name": "a1"},
                {"op": "pool", "name": "p1", "pool": "avg", "kernel": 3, "stride": 1,
                 "padding": 1},
                {"op": "conv", "name": "c2", "out": "out_channels", "kernel": 1},
            ],
        }
    },
    "block": {"type": "b"},
    "stages": [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2}],
}  # fmt: skip


def _op(spec: dict[str, Any], i: int) -> dict[str, Any]:
    op: dict[str, Any] = spec["blocks"]["b"]["ops"][i]
    return op


def _gated(spec: dict[str, Any], op: dict[str, Any]) -> None:
    """BASE's block with `op` reading a pooled c2 (or c2), gating c2."""
    gate = {"op": "mul", "name": "gated", "in": ["c2", op["name"]]}
    spec["blocks"]["b"]["ops"] += [{"op": "global_pool", "name": "pooled", "in": "c2"}, op, gate]


# Where a payload goes: a function that puts it into a copy of BASE.
PLACES: dict[str, Any] = {
    "op type": lambda s, p: _op(s, 0).update(op=p),
    "op name": lambda s, p: _op(s, 0).update(name=p),
    "conv out": lambda s, p: _op(s, 0).update(out=p),
    "conv kernel": lambda s, p: _op(s, 0).update(kernel=p),
    "conv stride": lambda s, p: _op(s, 0).update(stride=p),
    "conv groups": lambda s, p: _op(s, 4).update(groups=p),
    "conv padding": lambda s, p: _op(s, 0).update(padding=p),
    "conv dilation": lambda s, p: _op(s, 4).update(dilation=p),
    "norm kind": lambda s, p: _op(s, 1).update(kind=p),
    "norm groups": lambda s, p: _op(s, 1).update(kind="group", groups=p),
    "act": lambda s, p: _op(s, 2).update(act=p),
    "pool kind": lambda s, p: _op(s, 3).update(pool=p),
    "pool kernel": lambda s, p: _op(s, 3).update(kernel=p),
    "pool when": lambda s, p: _op(s, 3).update(when=p),
    "merge when": lambda s, p: s["blocks"]["b"]["ops"].append(
        {"op": "add", "name": "sum", "in": ["c2", "c2"], "when": p}),
    "op input": lambda s, p: _op(s, 4).update({"in": p}),
    "channel_conv kernel": lambda s, p: s["blocks"]["b"]["ops"].extend([
        {"op": "global_pool", "name": "squeeze"},
        {"op": "channel_conv", "name": "eca.conv", "kernel": p},
        {"op": "act", "name": "gate", "act": "sigmoid"},
        {"op": "mul", "name": "gated", "in": ["c2", "gate"]}]),
    "split start": lambda s, p: _gated(s, {"op": "split", "name": "piece", "in": "c2",
                                           "start": p, "channels": "out_channels"}),
    "split channels": lambda s, p: _gated(s, {"op": "split", "name": "piece", "in": "c2",
                                              "channels": p}),
    "softmax paths": lambda s, p: _gated(s, {"op": "softmax", "name": "w", "paths": p}),
    "softmax groups": lambda s, p: _gated(s, {"op": "softmax", "name": "w", "paths": 2,
                                              "groups": p}),
    "merge inputs": lambda s, p: s["blocks"]["b"]["ops"].append(
        {"op": "add", "name": "sum", "in": ["c2", p]}),
    "branch": lambda s, p: s["blocks"]["b"].update(branch=p),
    "shortcut_from": lambda s, p: s["blocks"]["b"].update(shortcut_from=p),
    "projection_from": lambda s, p: s["blocks"]["b"].update(projection_from=p),
    "act output name": lambda s, p: _op(s, 2).update({"as": p}),
    "output_act": lambda s, p: s["blocks"]["b"].update(output_act=p),
    "param name": lambda s, p: s["blocks"]["b"].update(params={p: {"default": 1}}),
    "param value": lambda s, p: s["block"].update(params={"k": p}),
    "param key": lambda s, p: s["block"].update(params={p: 1}),
    "block name": lambda s, p: (s["blocks"].update({p: s["blocks"].pop("b")}),
                                s["block"].update(type=p)),
    "class name": lambda s, p: s["blocks"]["b"].update(class_name=p),
    "attention kind": lambda s, p: s["blocks"]["b"]["ops"].append(
        {"op": "attention", "name": "se", "kind": p}),
    "attention hidden": lambda s, p: s["blocks"]["b"]["ops"].append(
        {"op": "attention", "name": "se", "kind": "se", "hidden": p}),
    "attention kernel": lambda s, p: s["blocks"]["b"]["ops"].append(
        {"op": "attention", "name": "se", "kind": "eca", "kernel": p}),
    "reshape dims": lambda s, p: s["blocks"]["b"]["ops"].append(
        {"op": "reshape", "name": "r", "dims": [p, -1], "order": [1, 0]}),
    "reshape order": lambda s, p: s["blocks"]["b"]["ops"].append(
        {"op": "reshape", "name": "r", "dims": [2, -1], "order": [p, 0]}),
}  # fmt: skip


def _spec_with(place: str, payload: str) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    PLACES[place](spec, payload)
    return spec


def _refused(spec: dict[str, Any]) -> list[str]:
    """The error diagnostics of a spec that must not load or check."""
    with pytest.raises(ResgenError) as caught:
        check_spec(spec)
    errors = [d for d in caught.value.diagnostics if d.is_error]
    assert errors
    assert all(d.location is not None and d.location.line >= 1 for d in errors)
    return [d.message for d in errors]


def test_the_base_spec_is_valid() -> None:
    """So each refusal below is the payload's."""
    _, analysis = check_spec(BASE)
    assert analysis.total_params > 0


@pytest.mark.parametrize("place", sorted(PLACES))
def test_every_payload_is_refused_everywhere(place: str, tmp_path: Path) -> None:
    sentinel = tmp_path / SENTINEL
    for payload in _payloads(sentinel):
        if place == "op name" and payload == "os.system":
            # As an op's name it is a container `os` holding a module `system`, both names in
            # the block (`self.os["system"]`), not Python's os; test_dotted_names_are_only_names.
            continue
        _refused(_spec_with(place, payload))
    assert not sentinel.exists()


def test_dotted_names_are_only_names() -> None:
    spec = _spec_with("op name", "os.system")
    source = resgen.compile_source(spec)
    assert 'self.os = nn.ModuleDict()\n        self.os["system"] = nn.Conv2d(' in source
    assert "import os" not in source


@pytest.mark.parametrize("name", ["__init__", "forward", "training", "state_dict", "x", "self",
                                  "downsample", "add", "out_act", "in_channels", "min", "_hidden",
                                  "a.__dict__", "a._x", "a.b.c.d.e", "a..b", "a.b.keys.c",
                                  "a.forward.b", "1a", "class", "a.class", "a.forward",
                                  "a.keys"])  # fmt: skip
def test_reserved_and_malformed_op_names_are_refused(name: str) -> None:
    spec = _spec_with("op name", name)
    assert any("op name" in m for m in _refused(spec))


YAML_TAGS = [
    "!!python/object/apply:os.system ['touch {sentinel}']",
    "!!python/object/new:os.system ['touch {sentinel}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:builtins.object {{}}",
    "!eval __import__('os').system('touch {sentinel}')",
]


def _yaml_with(value: str) -> str:
    """BASE as YAML text with the first conv's `out` replaced by `value`, written raw."""
    text = yaml.safe_dump(BASE, sort_keys=False, default_flow_style=None, width=1000)
    assert "out: mid_channels" in text
    return text.replace("out: mid_channels", f"out: {value}", 1)


@pytest.mark.parametrize("tag", YAML_TAGS)
def test_yaml_python_tags_are_refused(tag: str, tmp_path: Path) -> None:
    sentinel = tmp_path / SENTINEL
    path = tmp_path / "tagged.yaml"
    path.write_text(_yaml_with(tag.format(sentinel=sentinel)), encoding="utf-8")
    with pytest.raises(ResgenError) as caught:
        check_spec(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "!" in text)
    assert [d.location.line for d in caught.value.diagnostics if d.location] == [line]
    assert not sentinel.exists()


@pytest.mark.parametrize(
    ("place", "payload"),
    [
        ("op type", "torch.nn.Conv2d"),
        ("op name", "__class__.__mro__"),
        ("conv out", "__import__('os').system('touch {sentinel}')"),
        ("param value", "lambda: 0"),
        ("output_act", "os.system"),
        ("yaml", "!!python/object/apply:os.system ['touch {sentinel}']"),
    ],
)
def test_the_cli_refuses_with_exit_status_1(place: str, payload: str, tmp_path: Path) -> None:
    sentinel = tmp_path / SENTINEL
    payload = payload.format(sentinel=sentinel)
    path = tmp_path / "victim.yaml"
    if place == "yaml":
        path.write_text(_yaml_with(payload), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(_spec_with(place, payload), sort_keys=False), "utf-8")
    out = tmp_path / "out"
    for command, where in (("check", out / "report.txt"), ("build", out), ("draw", out / "x.svg")):
        done = run_resgen(command, str(path), "-o", str(where))
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert f"{path.name}:" in done.stderr and ": error[" in done.stderr
    assert not [*out.glob("*.py"), *out.glob("*.svg")]  # check's -o report is all there is
    assert not sentinel.exists()


def test_a_description_stays_text_in_the_generated_file(tmp_path: Path) -> None:
    """A block's description is the only free text that reaches generated code: it is escaped
    into the docstring, so importing the file runs nothing."""
    sentinel = tmp_path / SENTINEL
    spec = copy.deepcopy(BASE)
    spec["blocks"]["b"]["description"] = (
        f'"""\nimport os; os.system("touch {sentinel}")\n"""\\N \\x'
    )
    source = resgen.compile_source(spec)
    module = load_module(source, "victim_description")
    assert not sentinel.exists()
    assert "touch" in (module.B.__doc__ or "")
