"""Every Res2Net of timm's res2net module, against its built-in spec (as tests/test_zoo.py does).

timm's Res2Nets are its ResNet class with the Bottle2neck block: a bottleneck whose 3x3 is
`scale` splits of 3x3 convs with cumulative adds (resgen's `block.type: res2net`). The entrypoints
are enumerated when the tests run, so a timm upgrade that adds one fails here until it has a
built-in spec named after it or a NOT_YET reason. Each must have the reference's state_dict keys
in order with their shapes, load its random weights and norm statistics strictly, and give
bit-identical logits in eval and train mode at 64 px and an odd size, with resgen's static
params, MACs and stage shapes equal to torch's; the deepest are checked on `meta` only.
"""

from __future__ import annotations

import pytest
import torch

from resgen.resources import builtin_spec_path
from tests import test_zoo
from tests.reference import zoo

MODULE = "res2net"
NOT_YET: dict[str, str] = {}  # entrypoint -> what the spec language lacks for it

NAMES = zoo.timm_entrypoints(MODULE)
SHIPPED = [n for n in NAMES if builtin_spec_path(n) is not None]
GIANTS = {"res2net101_26w_4s", "res2net101d"}  # logits over a second each on one core


def test_every_entrypoint_has_a_spec_or_a_reason() -> None:
    """timm 1.0.29 has 9; a new one fails here until it has a spec or a NOT_YET reason."""
    assert len(NAMES) >= 9 and {"res2net50_26w_4s", "res2next50", "res2net50d"} <= set(NAMES)
    has_spec = lambda n: builtin_spec_path(n) is not None  # noqa: E731
    assert test_zoo._coverage_problems(NAMES, NOT_YET, has_spec) == []


@pytest.mark.parametrize("name", sorted(GIANTS & set(SHIPPED)))
def test_giants_keys_shapes_and_counts_on_meta(name: str) -> None:
    _, ours = test_zoo._build("timm", name, "meta")
    analysis = test_zoo._analysis(name, test_zoo.ODD_SIZE)
    x = torch.empty(1, 3, test_zoo.ODD_SIZE, test_zoo.ODD_SIZE, device="meta")
    test_zoo._check_counts(ours.eval(), x, analysis)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.slow] if n in GIANTS else []) for n in SHIPPED],
)
def test_matches_reference(name: str) -> None:
    """Keys, shapes, strict load, static counts and bit-identical logits, as tests/test_zoo.py."""
    test_zoo.test_matches_reference(("timm", name))
