"""Every SKNet of timm's sknet module, against its built-in spec (as tests/test_zoo.py does).

timm's SKNets are its ResNet class with selective kernel blocks: a basic block's first 3x3 or a
bottleneck's 3x3 is a selective kernel conv (two 3x3 paths at dilation 1 and 2, weighed per channel
by a softmax attention), and every conv is named as timm's ConvNormAct is (resgen's
`block.type: sk_basic` and `sk_bottleneck`). The entrypoints are enumerated when the tests run, so
a timm upgrade that adds one fails here until it has a built-in spec named after it or a NOT_YET
reason. Each must have the reference's state_dict keys in order with their shapes, load its random
weights and norm statistics strictly, and give bit-identical logits in eval and train mode at 64 px
and an odd size, with resgen's static params, MACs and stage shapes equal to torch's.
"""

from __future__ import annotations

import pytest

from resgen.resources import builtin_spec_path
from tests import test_zoo
from tests.reference import zoo

MODULE = "sknet"
NOT_YET: dict[str, str] = {}  # entrypoint -> what the spec language lacks for it

NAMES = zoo.timm_entrypoints(MODULE)
SHIPPED = [n for n in NAMES if builtin_spec_path(n) is not None]


def test_every_entrypoint_has_a_spec_or_a_reason() -> None:
    """timm 1.0.29 has 5; a new one fails here until it has a spec or a NOT_YET reason."""
    assert len(NAMES) >= 5 and {"skresnet18", "skresnext50_32x4d"} <= set(NAMES)
    has_spec = lambda n: builtin_spec_path(n) is not None  # noqa: E731
    assert test_zoo._coverage_problems(NAMES, NOT_YET, has_spec) == []


@pytest.mark.parametrize("name", SHIPPED)
def test_matches_reference(name: str) -> None:
    """Keys, shapes, strict load, static counts and bit-identical logits, as tests/test_zoo.py."""
    test_zoo.test_matches_reference(("timm", name))
