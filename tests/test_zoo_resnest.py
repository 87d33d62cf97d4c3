"""Every ResNeSt of timm's resnest module, against its built-in spec (as tests/test_zoo.py does).

timm's ResNeSts are its ResNet class with the ResNestBottleneck block: a bottleneck whose 3x3 is a
split-attention conv (`radix` splits per cardinality group, weighed per channel by a softmax
across them, or a sigmoid gate with one split) and whose strided blocks downsample with a 3x3
average pool before or after it ("avd"), resgen's `block.type: resnest`. The entrypoints are
enumerated when the tests run, so a timm upgrade that adds one fails here until it has a built-in
spec named after it or a NOT_YET reason. Each must have the reference's state_dict keys in order
with their shapes, load its random weights and norm statistics strictly, and give bit-identical
logits in eval and train mode at 64 px and an odd size, with resgen's static params, MACs and
stage shapes equal to torch's; the deepest are checked on `meta` only. The checked-in deploy build
of each gives the normal build's eval outputs to within rounding.
"""

from __future__ import annotations

import pytest
import torch

from resgen.resources import builtin_spec_path
from resgen.spec.load import load_spec_file
from tests import test_zoo
from tests.conftest import generated_module, randomise_norms
from tests.reference import zoo
from tests.test_deploy import TOLERANCE

MODULE = "resnest"
NOT_YET: dict[str, str] = {}  # entrypoint -> what the spec language lacks for it

NAMES = zoo.timm_entrypoints(MODULE)
SHIPPED = [n for n in NAMES if builtin_spec_path(n) is not None]
GIANTS = {"resnest200e", "resnest269e"}  # logits take seconds each on one core


def test_every_entrypoint_has_a_spec_or_a_reason() -> None:
    """timm 1.0.29 has 8; a new one fails here until it has a spec or a NOT_YET reason."""
    assert len(NAMES) >= 8 and {"resnest50d", "resnest50d_4s2x40d", "resnest269e"} <= set(NAMES)
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


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("name", sorted(set(SHIPPED) - GIANTS))
def test_deploy_equals_trained_eval(name: str) -> None:
    """generated/<name>_deploy.py, converted from a trained model with random norm statistics."""
    model_class = load_spec_file(builtin_spec_path(name)).spec.model_class  # type: ignore[arg-type]
    trained = getattr(generated_module(name), model_class)()
    randomise_norms(trained, seed=0)
    deploy_class = getattr(generated_module(f"{name}_deploy"), f"{model_class}Deploy")
    deploy = deploy_class.from_trained(trained.eval())
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        got, expected = deploy(x), trained(x)
    scale = float(expected.abs().max())
    assert torch.isfinite(expected).all() and scale > 0
    torch.testing.assert_close(got, expected, rtol=TOLERANCE, atol=TOLERANCE * scale)
