"""Every ResNet of timm's resnet module and of torchvision's builders, against its built-in spec.

The references are enumerated when the tests run (tests/reference/zoo.py), so a timm or
torchvision upgrade that adds an entrypoint fails here until it gets a built-in spec named after
it, or an entry in NOT_YET naming what the spec language lacks; an entrypoint that gains a spec
fails until its NOT_YET entry goes. One spec covers a name timm and torchvision share, and is
checked against both.

Each (library, entrypoint) with a spec must have the generated model's state_dict keys, in the
same order, with the same shapes. The reference's weights (random, with random norm statistics)
load strictly into the generated model, and the logits are bit-identical in eval mode (running
statistics) and in train mode (batch statistics), at 64x64 and at an odd size; resgen's static
params, MACs (FlopCounterMode / 2) and per-stage shapes at both sizes equal what torch measures on
the generated model. The GIANTS' logits take seconds, so those are `slow` (`make test` runs them
all the same); their keys, shapes and counts are also checked on the `meta` device, where a model
costs no memory, in every run.

Building a big reference with its own random init takes seconds (a normal draw per weight); here
both models are built with torch.nn.init skipped and the reference gets one deterministic fill
that copies from a small pool of random numbers, so the largest nets cost their forward passes.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resgen
from resgen.checks import Analysis
from resgen.pipeline import check
from resgen.resources import builtin_spec_names, builtin_spec_path
from resgen.spec.load import load_spec_file
from tests.conftest import ROOT, generated_module
from tests.reference import zoo

# Entrypoint -> the spec-language feature it waits for, for those that have no built-in spec. Empty
# since issue 15: every ResNet of timm 1.0.29 and torchvision 0.29.1 has one. A library upgrade that
# adds an entrypoint the language cannot express yet puts it here, with the reason, until it can.
NOT_YET: dict[str, str] = {}

ENTRYPOINTS = zoo.entrypoints()
SHIPPED = [(source, name) for source, name in ENTRYPOINTS if builtin_spec_path(name) is not None]
# Logits of these take over 2 s each on one core (resnext101_32x32d ~6 s, resnetrs420 ~4 s).
GIANTS = {"resnext101_32x16d", "resnext101_32x32d", "resnetrs270", "resnetrs350", "resnetrs420",
          "seresnextaa201d_32x8d", "ecaresnet269d", "seresnet269d", "senet154"}  # fmt: skip

# Odd into every strided layer (33 -> 17 -> 9 -> 5 -> 3 -> 2), so each floor and ceil rounding
# shows, at a quarter of the cost of 65.
ODD_SIZE = 33
SIZES = (64, ODD_SIZE)


def _id(entry: tuple[str, str]) -> str:
    return f"{entry[0]}-{entry[1]}"


def _params(entries: list[tuple[zoo.Source, str]]) -> list[object]:
    return [
        pytest.param(e, id=_id(e), marks=[pytest.mark.slow] if e[1] in GIANTS else [])
        for e in entries
    ]


def _coverage_problems(
    names: list[str], not_yet: dict[str, str], has_spec: Callable[[str], bool]
) -> list[str]:
    problems = []
    if missing := sorted(n for n in names if not has_spec(n) and n not in not_yet):
        problems.append(f"no built-in spec and no NOT_YET reason: {missing}")
    if done := sorted(n for n in not_yet if has_spec(n)):
        problems.append(f"have a built-in spec now; remove them from NOT_YET: {done}")
    if stale := sorted(set(not_yet) - set(names)):
        problems.append(f"NOT_YET names that are no longer entrypoints: {stale}")
    return problems


def test_every_entrypoint_has_a_spec_or_a_reason() -> None:
    """A new entrypoint, or a NOT_YET one that gained a spec, fails here until this file says so."""
    names = [name for _, name in ENTRYPOINTS]
    assert _coverage_problems(names, NOT_YET, lambda n: builtin_spec_path(n) is not None) == []


def test_coverage_fails_on_what_it_must() -> None:
    """The rule itself, since an empty NOT_YET exercises only half of it."""
    has_spec = {"resnet50", "resnetrs50"}.__contains__
    assert _coverage_problems(["resnet50", "resnet999"], {}, has_spec) == [
        "no built-in spec and no NOT_YET reason: ['resnet999']"
    ]
    assert _coverage_problems(["resnet50", "resnet999"], {"resnet999": "why"}, has_spec) == []
    assert _coverage_problems(["resnetrs50"], {"resnetrs50": "a conv stem pool"}, has_spec) == [
        "have a built-in spec now; remove them from NOT_YET: ['resnetrs50']"
    ]
    assert _coverage_problems([], {"resnet999": "why"}, has_spec) == [
        "NOT_YET names that are no longer entrypoints: ['resnet999']"
    ]


def test_the_libraries_are_enumerated() -> None:
    """The enumeration itself: torchvision's 10 builders; timm's resnet module (81 in 1.0.29)."""
    assert zoo.torchvision_builders() == sorted(
        ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
         "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]
    )  # fmt: skip
    timm_names = zoo.timm_entrypoints()
    assert len(timm_names) >= 81 and {"resnet50d", "resnetrs420", "senet154"} <= set(timm_names)
    assert len(SHIPPED) == len(ENTRYPOINTS) - len(NOT_YET)


def test_readme_lists_every_builtin_spec() -> None:
    """The README's "Shipped specs" table names each built-in spec once (notes in parentheses)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Shipped specs") :]
    rows = re.findall(r"^\| (?!reference |---)[^|]+\| ([^|]+) \|$", section.split("\n\n`")[0], re.M)
    listed = [n.strip() for row in rows for n in re.sub(r"\([^)]*\)", "", row).split(",")]
    assert sorted(listed) == builtin_spec_names()


def _ours(name: str) -> nn.Module:
    """The checked-in generated model (generated/NAME.py), built on the current device."""
    spec = load_spec_file(builtin_spec_path(name)).spec  # type: ignore[arg-type]
    return getattr(generated_module(name), spec.model_class)()  # type: ignore[no-any-return]


def _keep(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
    return tensor


@contextlib.contextmanager
def _no_init() -> Iterator[None]:
    """Build models without torch.nn.init: _fill writes every weight and statistic anyway.

    An init is not free even on `meta`, where each runs its decomposition op by op: skipping
    them builds resnetrs420 in 0.4 s instead of 1 s there, and a CPU model in memory-allocation
    time instead of seconds of random draws. Non-persistent buffers (a blur-pool's filter) are
    made without nn.init, so they keep their values.
    """
    names = [n for n in vars(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(nn.init, n) for n in names}
    try:
        for n in names:
            setattr(nn.init, n, _keep)
        yield
    finally:
        for n, function in saved.items():
            setattr(nn.init, n, function)


def _build(source: zoo.Source, name: str, device: str) -> tuple[nn.Module, nn.Module]:
    """The reference and the generated model, uninitialised, with the same keys, order, shapes."""
    with _no_init(), torch.device(device):
        reference, ours = zoo.build(source, name), _ours(name)
    ref_sd, our_sd = reference.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd), "state_dict keys (and their order) differ"
    assert {k: v.shape for k, v in our_sd.items()} == {k: v.shape for k, v in ref_sd.items()}
    return reference, ours


def _analysis(name: str, size: int) -> Analysis:
    return check(resgen.load_spec({"extends": name, "input": {"size": size}}))


def _check_counts(model: nn.Module, x: torch.Tensor, analysis: Analysis) -> torch.Tensor:
    """Run `model` on `x`; torch's params, MACs and stage shapes must be the analysis' own."""
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    stages = {s.name: analysis.shapes[s.output] for s in analysis.graph.graph["stages"]}
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(model, stage).register_forward_hook(
            lambda _m, _i, out, stage=stage: seen.__setitem__(stage, tuple(out.shape[1:]))
        )
        for stage in stages
    ]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        logits = model(x)
    for hook in hooks:
        hook.remove()
    assert counter.get_total_flops() == 2 * len(x) * analysis.total_macs  # per sample
    assert seen == stages and tuple(logits.shape[1:]) == analysis.output_shape
    assert [f["channels"] for f in model.feature_info] == [s[0] for s in stages.values()]
    return logits  # type: ignore[no-any-return]


@pytest.mark.parametrize("entry", _params([e for e in SHIPPED if e[1] in GIANTS]))
def test_giants_keys_shapes_and_counts_on_meta(entry: tuple[zoo.Source, str]) -> None:
    """What the logits test checks without running the weights, so cheap enough for every run."""
    source, name = entry
    _, ours = _build(source, name, "meta")
    analysis = _analysis(name, ODD_SIZE)
    _check_counts(ours.eval(), torch.empty(1, 3, ODD_SIZE, ODD_SIZE, device="meta"), analysis)


_POOL = torch.randn(1 << 20, generator=torch.Generator().manual_seed(0))


def _fill(state: dict[str, torch.Tensor]) -> None:
    """Fill every entry in place, deterministically and at copy speed: cycled slices of _POOL.

    Weights get He-style scales (so 269 layers stay finite), norm scales lie in [0.25, ~1.5],
    running variances in [0.5, ~3], biases and means near 0; counters are 0.
    """
    with torch.no_grad():
        for index, (key, value) in enumerate(state.items()):
            if not value.is_floating_point():
                value.zero_()
                continue
            if key.endswith("running_var"):
                scale, floor = 0.5, 0.5
            elif value.dim() == 1 and key.endswith(".weight"):  # a norm's scale
                scale, floor = 0.25, 0.25
            elif value.dim() == 1:  # biases, running means
                scale, floor = 0.1, None
            else:
                scale, floor = math.sqrt(2 / (value[0].numel())), None
            flat = value.view(-1)
            start, done = (index * 7919) % _POOL.numel(), 0  # each entry starts elsewhere
            while done < flat.numel():
                n = min(flat.numel() - done, _POOL.numel() - start)
                torch.mul(_POOL[start : start + n], scale, out=flat[done : done + n])
                done, start = done + n, 0
            if floor is not None:
                flat.abs_().add_(floor)


@pytest.mark.parametrize("entry", _params(SHIPPED))
def test_matches_reference(entry: tuple[zoo.Source, str]) -> None:
    """Keys, shapes, strict load, static counts and bit-identical logits (a giant's at 64 px
    only, but SENet-154's: its blocks' code, and so its odd-size rounding, is a smaller
    sibling's, resnext50_32x4d's, resnetrs50's, seresnextaa101d_32x8d's, ecaresnet50d's)."""
    source, name = entry
    reference, ours = _build(source, name, "cpu")
    state = reference.state_dict()
    _fill(state)
    ours.load_state_dict(state, strict=True, assign=True)  # the very tensors: nothing is copied
    gen = torch.Generator().manual_seed(1)
    sizes = SIZES[:1] if name in GIANTS - {"senet154"} else SIZES  # SENet has no small sibling
    inputs = {size: torch.randn(2, 3, size, size, generator=gen) for size in sizes}
    for train in (False, True):  # eval first, while the running statistics are the random ones
        reference.train(train)
        ours.train(train)
        for size, x in inputs.items():
            with torch.no_grad():
                expected = reference(x)
                got = ours(x) if train else _check_counts(ours, x, _analysis(name, size))
            assert torch.isfinite(expected).all() and expected.abs().max() > 0.1
            # Same ops in the same order on the same weights: bit-identical, not merely close.
            assert torch.equal(got, expected), (
                f"train={train} {size}px: {(got - expected).abs().max()}"
            )
