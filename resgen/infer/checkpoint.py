"""Read a state_dict from a checkpoint file without unpickling arbitrary objects.

`.safetensors` goes through the safetensors library; `.pt`, `.pth`, `.bin` and `.ckpt` through
`torch.load(weights_only=True)`, whose unpickler refuses every class but tensors and plain
containers. The usual wrappers are unwrapped, each noted so the command can say what it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resgen.diagnostics import Diagnostic, Location, ResgenError, error

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")
CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network")
PREFIXES = ("module.", "_orig_mod.", "model.")


@dataclass
class StateDict:
    """A checkpoint's tensors by key, in file order, and what unwrapping them took."""

    tensors: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.tensors.items()}


def _fail(code: str, message: str, path: Path, hint: str) -> ResgenError:
    return ResgenError([error(code, message, Location(str(path)), hint)])


def read_state_dict(path: Path) -> StateDict:
    """The state_dict a checkpoint file holds, unwrapped; raise `ResgenError` on any problem."""
    if not path.is_file():
        raise _fail("no-such-file", f"{path}: no such file", path, "give a checkpoint file")
    if path.suffix == ".safetensors":
        raw: Any = _read_safetensors(path)
    elif path.suffix in TORCH_SUFFIXES:
        raw = _read_torch(path)
    else:
        raise _fail(
            "checkpoint-format",
            f"{path}: unknown checkpoint suffix {path.suffix!r}",
            path,
            "resgen infer reads .safetensors, .pt, .pth, .bin and .ckpt files",
        )
    return unwrap(raw, path)


def _read_safetensors(path: Path) -> dict[str, Any]:
    try:
        from safetensors.torch import load_file
    except ImportError as exc:  # pragma: no cover - the dependency ships with resgen[infer]
        raise _fail("missing-dependency", "reading .safetensors needs the safetensors library",
                    path, "pip install 'resgen[infer]'") from exc  # fmt: skip
    try:
        return dict(load_file(str(path), device="cpu"))
    except Exception as exc:  # the library raises its own errors for a damaged file
        raise _fail(
            "checkpoint-unreadable",
            f"{path}: not a safetensors file ({exc})",
            path,
            "is the file complete? safetensors files start with a JSON header",
        ) from exc


def _read_torch(path: Path) -> Any:
    import pickle

    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refused a class before running anything: say so, never retry unsafely.
        first = str(exc).splitlines()[0] if str(exc) else "a class outside tensors and containers"
        raise _fail(
            "unsafe-pickle",
            f"{path}: needs weights_only=False to load, which could run code from the file "
            f"({first[:200]})",
            path,
            "resgen never unpickles arbitrary objects: in a trusted environment, save the "
            "model's state_dict() (torch.save(model.state_dict(), ...)) or a .safetensors file",
        ) from exc
    except Exception as exc:
        raise _fail("checkpoint-unreadable", f"{path}: cannot be read by torch.load ({exc})",
                    path, "is the file a complete PyTorch checkpoint?") from exc  # fmt: skip


def unwrap(raw: Any, path: Path) -> StateDict:
    """Find the state_dict in a checkpoint: container keys, then DDP and compile prefixes."""
    notes: list[str] = []
    while isinstance(raw, Mapping) and not _all_tensors(raw):
        inner = next((k for k in CONTAINER_KEYS if isinstance(raw.get(k), Mapping)), None)
        if inner is None:
            keys = ", ".join(map(str, list(raw)[:10]))
            raise _fail(
                "not-a-state-dict",
                f"{path}: holds no state_dict (top-level keys: {keys})",
                path,
                "save model.state_dict(), or a dict with it under 'state_dict' or 'model'",
            )
        notes.append(f"took the state_dict under {inner!r}")
        raw = raw[inner]
    if not isinstance(raw, Mapping) or not raw:
        raise _fail("not-a-state-dict", f"{path}: holds {type(raw).__name__}, not a state_dict",
                    path, "save model.state_dict() rather than the model object")  # fmt: skip
    tensors = {str(k): v for k, v in raw.items()}
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            notes.append(f"removed the {prefix!r} prefix of every key")
            tensors = {k[len(prefix) :]: v for k, v in tensors.items()}
    return StateDict(tensors, notes)


def _all_tensors(raw: Mapping[Any, Any]) -> bool:
    import torch

    return bool(raw) and all(isinstance(v, torch.Tensor) for v in raw.values())


def diagnostics_for_keys(
    path: str, unexpected: list[str], missing: list[str], limit: int = 20
) -> list[Diagnostic]:
    """Keys no layout explains, and keys the layout needs but the file lacks, by prefix."""
    out = []
    for code, keys, what, hint in (
        ("unrecognised-keys", unexpected, "outside any recognised ResNet layout",
         "resgen infer reads torchvision's and timm's ResNet names (conv1, layer1.0.conv1, fc)"),
        ("missing-keys", missing, "missing for the layout the other keys show",
         "is the checkpoint complete? a strict load needs every tensor"),
    ):  # fmt: skip
        if keys:
            message = f"{_count(len(keys))} {what}: {group_keys(keys, limit)}"
            out.append(error(code, message, Location(path), hint))
    return out


def _count(n: int) -> str:
    return f"{n} key" if n == 1 else f"{n} keys"


def group_keys(keys: list[str], limit: int = 20) -> str:
    """The first `limit` keys grouped by their first two dotted parts, then a count of the rest:
    `layer2.0.{bn1.weight, bn1.bias}; extra.weight; ... and 10 more`."""
    groups: dict[str, list[str]] = {}
    for key in keys[:limit]:
        parts = key.split(".")
        prefix = ".".join(parts[: max(1, min(2, len(parts) - 1))])
        groups.setdefault(prefix, []).append(key[len(prefix) + 1 :])
    shown = [f"{p}.{rest[0]}" if len(rest) == 1 else f"{p}.{{{', '.join(rest)}}}"
             for p, rest in groups.items()]  # fmt: skip
    if len(keys) > limit:
        shown.append(f"... and {len(keys) - limit} more")
    return "; ".join(shown)
