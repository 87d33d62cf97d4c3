"""The deploy build: `<name>_deploy.py`, its folded norms and its state_dict converter.

For every distinct deploy program among the shipped specs (PROGRAMS, below) and a few small specs
for the language features the shipped ones do not use, a trained model with random weights and
random norm statistics is converted with the generated `from_trained`, and the deploy module's
outputs must equal the trained module's eval outputs to within TOLERANCE (below).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

import resgen
from resgen.api import load_module
from resgen.codegen.deploy import render_deploy_source
from resgen.graph.fold import plan_norms
from resgen.pipeline import check
from resgen.spec.load import LoadedSpec
from tests.conftest import ROOT, SPECS, generated_module, randomise_norms, run_resgen

# Float32 folding is exact only in real arithmetic: W * s rounds differently from scaling the
# conv's output, and channels_last changes oneDNN's summation order. Measured over every spec
# here, the worst difference is 1.5e-6 of the largest logit (resnet50_gn, where only the layout
# changes; 1.4e-6 for resnet1202's 1,200 folds). 1e-4 leaves a 70x margin, while a wrong fold errs
# far beyond it: eps off by 1e-3 already gives 4e-4 to 8e-4, a missed mean or a wrong conv ~1.
TOLERANCE = 1e-4

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = sorted(p.stem for p in SPECS.glob("*.yaml"))


def _cheapest_of_each_program() -> list[str]:
    """One shipped spec per distinct deploy program, the one with the fewest MACs.

    Two checked-in deploy files that differ only in numbers (widths, depths, sizes, the docstring's
    counts) and in the class name run the same code; the fold never looks at those numbers, so
    comparing outputs once per program covers them all (resnet50 stands for resnet101 to 200).
    tests/test_fold.py still checks every spec's folded graph, and test_generated_quality.py that
    every checked-in file is its spec's.
    """
    cheapest: dict[str, tuple[int, str]] = {}
    for name in SHIPPED:
        text = (ROOT / "generated" / f"{name}_deploy.py").read_text(encoding="utf-8")
        _, docstring, body = text.split('"""', 2)
        macs = re.search(r"([\d,]+) multiply-adds", docstring)
        model = re.search(r"^class (\w+)Deploy\(", body, re.MULTILINE)
        assert macs and model, name
        program = re.sub(r"\d+", "0", body.replace(model[1], "Model"))
        cost = int(macs[1].replace(",", ""))
        cheapest[program] = min(cheapest.get(program, (cost, name)), (cost, name))
    return sorted(name for _, name in cheapest.values())


PROGRAMS = _cheapest_of_each_program()

# Features no shipped spec uses: frozen batch norm, no norm, SiLU, drop-path, dropout, a max-pool
# head, the v1 stride, dilation, per-stage plain stages, mixed block types, pre-activation nets
# with frozen norms and pad shortcuts or without norms (and one stage), group norm in a deep stem.
EXTRA: dict[str, dict[str, Any]] = {
    "x_frozen_silu": {
        "name": "x_frozen_silu", "input": {"size": 32}, "stem": {"type": "cifar", "width": 8},
        "block": {"type": "basic"}, "norm": {"type": "frozen_batch", "eps": 1e-3}, "act": "silu",
        "drop_path": 0.2, "head": {"pool": "max", "dropout": 0.5, "classes": 5},
        "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
    },
    "x_no_norm": {
        "name": "x_no_norm", "input": {"size": 32}, "norm": {"type": "none"},
        "stem": {"type": "deep", "widths": [8, 8, 16]},
        "block": {"type": "bottleneck", "stride_on": "1x1"},
        "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
    },
    "x_preact_frozen_pad": {
        "name": "x_preact_frozen_pad", "input": {"size": 32}, "norm": {"type": "frozen_batch"},
        "stem": {"type": "cifar", "width": 8, "norm": False}, "shortcut": "pad",
        "block": {"type": "basic", "preact": True}, "drop_path": 0.1,
        "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}],
    },
    "x_mixed_dilated": {
        "name": "x_mixed_dilated", "input": {"size": 64}, "stem": {"width": 8},
        "block": {"type": "bottleneck", "groups": 2, "attention": {"type": "se"}},
        "output_stride": 8,
        "stages": [
            {"depth": 1, "width": 8, "block": "basic"}, {"depth": 2, "width": 8, "stride": 2},
            {"depth": 2, "width": 16, "stride": 2, "shortcut": "none"},
        ],
    },
    "x_preact_no_norm": {
        "name": "x_preact_no_norm", "input": {"size": 32}, "norm": {"type": "none"},
        "stem": {"type": "cifar", "width": 8, "norm": False},
        "block": {"type": "bottleneck", "preact": True}, "stages": [{"depth": 2, "width": 4}],
    },
    "x_gn_deep": {
        "name": "x_gn_deep", "input": {"size": 32}, "norm": {"type": "group", "groups": 4},
        "stem": {"type": "deep", "widths": [8, 8, 16]}, "block": {"type": "basic"},
        "shortcut": "avgpool_projection",
        "stages": [{"depth": 1, "width": 16}, {"depth": 2, "width": 32, "stride": 2}],
    },
}  # fmt: skip


def _loaded(name: str) -> LoadedSpec:
    return resgen.load_spec(EXTRA.get(name) or SPECS / f"{name}.yaml")


def _deploy_source(name: str) -> str:
    loaded = _loaded(name)
    return render_deploy_source(loaded, check(loaded))


def _trained(name: str) -> nn.Module:
    """The normal module: the golden file for a shipped spec, compiled in memory otherwise."""
    loaded = _loaded(name)
    if name in EXTRA:
        module = load_module(resgen.compile_source(loaded), name)
    else:
        module = generated_module(name)
    model: nn.Module = getattr(module, loaded.spec.model_class)()
    randomise_norms(model, seed=0)
    return model.eval()


def _deploy_module(name: str) -> ModuleType:
    return load_module(_deploy_source(name), f"{name}_deploy")


def _deploy_class(name: str) -> Any:
    return getattr(_deploy_module(name), f"{_loaded(name).spec.model_class}Deploy")


def _input(name: str, batch: int = 2) -> torch.Tensor:
    size = 32 if _loaded(name).spec.input.hw[0] <= 32 else 64
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))


def _assert_close(got: torch.Tensor, expected: torch.Tensor) -> None:
    scale = float(expected.abs().max())
    assert torch.isfinite(expected).all() and scale > 0
    torch.testing.assert_close(got, expected, rtol=TOLERANCE, atol=TOLERANCE * scale)


@pytest.mark.parametrize("name", PROGRAMS + sorted(EXTRA))
def test_deploy_equals_trained_eval(name: str) -> None:
    trained = _trained(name)
    deploy = _deploy_class(name).from_trained(trained)
    assert not deploy.training
    x = _input(name)
    with torch.inference_mode():
        _assert_close(deploy(x), trained(x))


@pytest.mark.parametrize("name", SHIPPED)
def test_norms_fold_as_planned(name: str) -> None:
    """No batch norm is left in a deploy module except where a ReLU sits before the next conv."""
    source = _deploy_source(name)
    assert "DropPath" not in source and "Dropout" not in source
    assert "BatchNorm" not in source
    plans = plan_norms(check(_loaded(name)).graph).values()
    norm = _loaded(name).spec.norm.type
    if norm in ("group", "evonorm_s0", "frn"):  # they depend on their input's statistics
        assert {p.action for p in plans} == {"keep"}
    elif _loaded(name).spec.block.preact:
        assert {p.action for p in plans} == {"fold", "affine"}
    else:
        assert {p.action for p in plans} == {"fold"}


@pytest.mark.parametrize("name", ["resnet50d", "preact_resnet164", "x_frozen_silu", "x_gn_deep"])
def test_state_dict_round_trip(name: str) -> None:
    trained = _trained(name)
    state = trained.state_dict()
    before = {k: v.clone() for k, v in state.items()}
    weights = _deploy_module(name).fold_state_dict(state)
    assert all(torch.equal(v, before[k]) for k, v in state.items())  # the input is untouched
    cls = _deploy_class(name)
    deploy = cls.from_trained(state)
    assert sorted(deploy.state_dict()) == sorted(weights)
    # Saved and loaded again, into a module built the ordinary way, strictly, in either layout.
    buffer = io.BytesIO()
    torch.save(deploy.state_dict(), buffer)
    buffer.seek(0)
    x = _input(name)
    with torch.inference_mode():
        expected = deploy(x)
        for channels_last in (True, False):
            again = cls(channels_last=channels_last).eval()
            again.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
            buffer.seek(0)
            _assert_close(again(x), expected)
    # From the module itself, too, and in another dtype.
    assert torch.equal(cls.from_trained(trained)(x), expected)
    wide = _deploy_module(name).fold_state_dict({k: v.double() for k, v in state.items()})
    assert all(v.dtype == torch.float64 for v in wide.values() if v.is_floating_point())


def test_foreign_state_dict_is_refused() -> None:
    fold = _deploy_module("resnet50").fold_state_dict
    state = _trained("resnet18").state_dict()
    state["layer9.0.odd.running_var"] = torch.ones(3)
    with pytest.raises(KeyError, match=re.escape("layer9.0.odd is not a norm of ResNet50")):
        fold(state)


@pytest.mark.parametrize(
    "name", ["resnet18d", "ecaresnet50d", "seresnet50", "resnet50_gn", "resnet110", "wrn28_10",
             "x_mixed_dilated"],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning")
def test_torchscript(name: str) -> None:
    deploy = _deploy_class(name).from_trained(_trained(name))
    scripted = torch.jit.script(deploy)
    x = _input(name, batch=1)
    with torch.inference_mode():
        expected = deploy(x)
        _assert_close(scripted(x), expected)
        _assert_close(torch.jit.freeze(scripted)(x), expected)


def test_deploy_sources_pass_ruff(tmp_path: Path) -> None:
    for name in SHIPPED + sorted(EXTRA):
        (tmp_path / f"{name}_deploy.py").write_text(_deploy_source(name), encoding="utf-8")
    ruff = [sys.executable, "-m", "ruff"]
    config = ["--config", str(ROOT / "pyproject.toml")]
    # N801: the published class names (ResNeXt50_32x4d) are kept, as in generated/.
    lint = subprocess.run(
        [*ruff, "check", *config, "--ignore", "N801", "--no-cache", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [*ruff, "format", *config, "--check", "--diff", "--no-cache", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_deploy_source_is_deterministic_and_compact() -> None:
    first = _deploy_source("resnet1202")
    assert _deploy_source("resnet1202") == first
    assert str(ROOT) not in first
    assert len(first.splitlines()) < 300  # loops, not 600 block lines


def test_cli_build_deploy_and_check(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    shutil.copy(SPECS / "resnet18d.yaml", tmp_path / "specs")
    spec, out = "specs/resnet18d.yaml", tmp_path / "out"

    def build(*args: str) -> subprocess.CompletedProcess[str]:
        return run_resgen("build", spec, "-o", str(out), *args, cwd=tmp_path)

    result = build("--deploy")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["resnet18d.py", "resnet18d_deploy.py"]
    assert (out / "resnet18d_deploy.py").read_text(encoding="utf-8") == _deploy_source("resnet18d")
    assert build("--deploy", "--check").returncode == 0
    (out / "resnet18d_deploy.py").write_text("# stale\n", encoding="utf-8")
    stale = build("--deploy", "--check")
    assert stale.returncode == 1
    assert "--deploy" in stale.stderr and "-# stale" in stale.stdout
    assert build("--check").returncode == 0  # without --deploy, only the normal file counts


# Which convs run fused with the ReLU after them (and the add before it): relu only, post-activation
# blocks, no norm kept between conv and ReLU, nothing (SE/ECA) between the last conv and the add.
FUSIONS = {
    "resnet50": {"ConvReLU": 1 + 2 * 16, "ConvAddReLU": 16},  # stem + conv1, conv2 of 16 blocks
    "resnet18": {"ConvReLU": 1 + 8, "ConvAddReLU": 8},
    "resnet20": {"ConvReLU": 1 + 9, "ConvAddReLU": 9},  # pad shortcuts add like identities
    "plain20": {"ConvReLU": 1 + 2 * 9},  # no add: the last conv fuses with its ReLU alone
    "resnext50_32x4d": {"ConvReLU": 1 + 2 * 16, "ConvAddReLU": 16},  # grouped 3x3s
    "resnet50d": {"ConvReLU": 2 * 16, "ConvAddReLU": 16},  # the deep stem stays a Sequential
    "resnet18d": {"ConvReLU": 8, "ConvAddReLU": 8},
    "seresnet50": {"ConvReLU": 1 + 2 * 16},  # SE sits between conv3 and the add
    "x_mixed_dilated": {"ConvReLU": 1 + 1 + 2 * 4},  # per-stage plain flag: no fused add
    "preact_resnet164": {},
    "resnet50_gn": {},
    "x_frozen_silu": {},
}


def _fused_counts(model: nn.Module) -> dict[str, int]:
    counts: dict[str, int] = {}
    for module in model.modules():
        name = type(module).__name__
        if name in ("ConvReLU", "ConvAddReLU"):
            counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_fused_convs_as_planned(name: str) -> None:
    deploy = _deploy_class(name)()
    assert _fused_counts(deploy) == FUSIONS[name]
    source = _deploy_source(name)
    assert ("class FusedConv2d" in source) == bool(FUSIONS[name])


@pytest.mark.parametrize("name", sorted(n for n, f in FUSIONS.items() if f))
def test_fused_path_computes_the_block(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU-only branch, run on the CPU against cuDNN's documented semantics.

    `torch.cudnn_convolution_relu(x, w, b, ...)` is relu(conv(x, w, b)) and
    `torch.cudnn_convolution_add_relu(x, w, z, alpha, b, ...)` is relu(conv(x, w, b) + alpha * z);
    with stand-ins computing exactly that, the fused branch must give the trained outputs (a wrong
    argument order, a missed shortcut or a misplaced fusion would not).
    """
    module = _deploy_module(name)
    calls = {"ConvReLU": 0, "ConvAddReLU": 0}

    def conv_relu(x, weight, bias, stride, padding, dilation, groups):  # type: ignore[no-untyped-def]
        calls["ConvReLU"] += 1
        return torch.relu(nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups))

    def conv_add_relu(x, weight, z, alpha, bias, stride, padding, dilation, groups):  # type: ignore[no-untyped-def]
        calls["ConvAddReLU"] += 1
        out = nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups)
        return torch.relu(out + alpha * z)

    monkeypatch.setattr(torch, "cudnn_convolution_relu", conv_relu)
    monkeypatch.setattr(torch, "cudnn_convolution_add_relu", conv_add_relu)
    monkeypatch.setattr(module.FusedConv2d, "fused", lambda self, x: True)
    trained = _trained(name)
    deploy = getattr(module, f"{_loaded(name).spec.model_class}Deploy").from_trained(trained)
    x = _input(name, batch=1)
    with torch.inference_mode():
        _assert_close(deploy(x), trained(x))
    assert {k: v for k, v in calls.items() if v} == FUSIONS[name]


def test_fused_path_is_only_for_matching_gpu_calls() -> None:
    conv = _deploy_module("resnet18").ConvReLU(3, 4, 3)
    assert not conv.fused(torch.randn(1, 3, 8, 8))  # on the CPU: conv, then an in-place ReLU


@pytest.fixture
def _no_tf32() -> Iterator[None]:
    """TF32 rounds conv inputs to 10 bits: off, so a GPU can be held to float32 tolerances."""
    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


CUDA_SPECS = ["resnet50", "resnet18d", "resnet20", "plain20", "resnext50_32x4d", "seresnet50",
              "preact_resnet164", "x_mixed_dilated"]  # fmt: skip


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.usefixtures("_no_tf32")
@pytest.mark.parametrize("name", CUDA_SPECS)
def test_trained_and_deploy_run_on_cuda(name: str) -> None:
    """On a GPU both modules give the CPU's eval outputs, the deploy one through cuDNN's fusions."""
    from benchmarks.common import aten_ops

    trained = _trained(name)
    deploy = _deploy_class(name).from_trained(trained)
    x = _input(name)
    with torch.inference_mode():
        expected = trained(x)
        _assert_close(trained.cuda()(x.cuda()).cpu(), expected)
        _assert_close(deploy.cuda()(x.cuda()).cpu(), expected)
    ops = aten_ops(deploy, x.cuda(), train=False)
    fusions = FUSIONS.get(name, {})
    assert ops.count("cudnn_convolution_relu") == fusions.get("ConvReLU", 0)
    assert ops.count("cudnn_convolution_add_relu") == fusions.get("ConvAddReLU", 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", ["resnet50", "resnet20", "seresnet50"])
def test_deploy_in_bfloat16_on_cuda(name: str) -> None:
    """Converted to bfloat16 (the fused path), the deploy module errs no more than the trained one.

    bfloat16 keeps 8 significant bits, so both differ from the float32 outputs by about 1% of the
    largest logit; the deploy module's error must stay within twice the trained module's.
    """
    trained = _trained(name)
    deploy = _deploy_class(name).from_trained(trained)
    x = _input(name)
    with torch.inference_mode():
        expected = trained(x)
        scale = float(expected.abs().max())
        bf16 = torch.bfloat16
        ours = trained.to("cuda", bf16)(x.to("cuda", bf16)).float().cpu()
        folded = deploy.to("cuda", bf16)(x.to("cuda", bf16)).float().cpu()
    trained_error = float((ours - expected).abs().max()) / scale
    deploy_error = float((folded - expected).abs().max()) / scale
    assert trained_error < 0.05 and deploy_error <= 2 * trained_error + 1e-3, (
        trained_error,
        deploy_error,
    )
