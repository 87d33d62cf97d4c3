"""Any valid ResNeSt spec compiles, runs, and matches its static analysis and its own graph.

tests/strategies.py draws the basic and bottleneck language; this draws resnest blocks across
their switches (radix 1 to 4, cardinality, avd first, last or none, the attention's rounding,
dilation past an output stride, SE, drop-path, projections, mixed with bottleneck stages) and
holds each generated model to what resgen says of it, as tests/test_fuzz.py does: parameters,
MACs (FlopCounterMode / 2) and stage shapes, module paths equal to the graph's node ids, and the
IR evaluated op by op (slices, the grouped softmax across the splits, their products and sums)
equal to the generated forward.
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from resgen.api import load_module, load_spec
from resgen.graph import ir
from resgen.pipeline import compile_spec
from tests.test_fuzz import _interpret, _measure, _module_paths, _node_paths, _randomize

EXAMPLES = 20


@st.composite
def resnest_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid resnest spec: every width a multiple of the radix, so its groups divide them."""
    radix = draw(st.integers(1, 4))
    groups = draw(st.sampled_from([1, 2]))
    split_attention = {
        "radix": radix,
        "avd": draw(st.sampled_from(["last", "first", "none"])),
        "reduction": draw(st.sampled_from([1, 2, 4])),
        # Even, so that the attention's width splits into the 2 groups of fc1 and fc2.
        "divisor": draw(st.sampled_from([2, 4, 8])),
        "min_channels": draw(st.sampled_from([2, 4, 8])),
    }
    block: dict[str, Any] = {
        "type": "resnest", "groups": groups, "split_attention": split_attention,
        "base_width": draw(st.sampled_from([64, 128])),
    }  # fmt: skip
    if draw(st.booleans()):
        block["attention"] = {"type": "se", "reduction": 4, "divisor": 2}
    stages = [
        {"depth": draw(st.integers(1, 2)), "width": radix * draw(st.integers(1, 3)),
         "stride": 1 if i == 0 else draw(st.sampled_from([1, 2]))}
        for i in range(draw(st.integers(1, 3)))
    ]  # fmt: skip
    if len(stages) > 1 and draw(st.booleans()):
        stages[-1]["block"] = "bottleneck"
    spec: dict[str, Any] = {
        "name": "drawn", "block": block, "stages": stages, "head": {"classes": 3},
        "input": {"size": draw(st.integers(9, 33))},
        "stem": draw(st.sampled_from([{"type": "deep", "widths": [4, 4, 8]}, {"width": 8}])),
        "shortcut": draw(st.sampled_from(["avgpool_projection", "projection", "projection_all"])),
    }  # fmt: skip
    if draw(st.booleans()):
        spec["output_stride"] = 8
    if draw(st.booleans()):
        spec["drop_path"] = 0.1
    return spec


@settings(max_examples=EXAMPLES, deadline=None)
@given(resnest_specs())
def test_resnest_specs_compile_run_and_match_their_graph(spec: dict[str, Any]) -> None:
    loaded = load_spec(spec)
    compiled = compile_spec(loaded)
    assert compiled.source is not None
    assert not [d for d in compiled.analysis.diagnostics if d.is_error]
    analysis = compiled.analysis
    model = getattr(load_module(compiled.source, "drawn"), loaded.spec.model_class)()
    c, h, w = analysis.graph.graph["input_shape"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only contend
    try:
        model.train()
        model(torch.randn(2, c, h, w)).sum().backward()
        model.eval()
        stages = ir.stages_of(analysis.graph)
        measured = _measure(model, torch.randn(1, c, h, w), [s.name for s in stages])
        assert measured["shapes"] == {s.name: analysis.shapes[s.output] for s in stages}
        assert measured["out"] == analysis.output_shape
        assert sum(p.numel() for p in model.parameters()) == analysis.total_params
        assert measured["flops"] == 2 * analysis.total_macs
        assert _module_paths(model) == _node_paths(analysis.graph)
        _randomize(model)
        x = torch.randn(2, c, h, w)
        with torch.no_grad():
            want = _interpret(analysis.graph, model, x.clone())
            got = model(x)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    finally:
        torch.set_num_threads(threads)
