"""Train a generated model sharded with FSDP2 under torchrun, checkpoint it, and resume exactly.

    torchrun --nproc-per-node 2 examples/train_distributed.py --spec resnet20 --steps 20
    torchrun --nproc-per-node 2 examples/train_distributed.py --spec resnet1202 --checkpoint

Each block (the children of every stage that the model's `feature_info` names) is wrapped with
`torch.distributed.fsdp.fully_shard`, then the whole model, so a rank holds only its shard of the
weights and gathers one block's at a time. `--checkpoint` builds the spec with activation
checkpointing (`checkpoint: blocks`), so a block's activations are rebuilt in backward instead of
kept: a 1,000-layer net then needs the memory of its block inputs only. Gloo on CPUs, NCCL on
GPUs; the data is synthetic and the same for any number of processes: global batch `--batch`,
split evenly among the ranks.

`--save DIR --save-at K` writes a `torch.distributed.checkpoint` after step K (model, optimizer,
step); `--resume DIR` loads it and continues from step K + 1 with the same losses an
uninterrupted run has. `--losses FILE` (rank 0) writes every step's loss, averaged over ranks, as
JSON. Run without torchrun it trains in one process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import torch.nn.functional as F
from torch import nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

import resgen


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", default="resnet20", help="a built-in spec name or a spec file")
    parser.add_argument("--checkpoint", action="store_true", help="activation checkpointing")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16, help="global batch, split among ranks")
    parser.add_argument("--size", type=int, default=32, help="input height and width")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="write a distributed checkpoint here")
    parser.add_argument("--save-at", type=int, default=0, help="after this step (1-based)")
    parser.add_argument("--resume", type=Path, help="continue from this distributed checkpoint")
    parser.add_argument("--losses", type=Path, help="rank 0 writes the losses here (JSON)")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> nn.Module:
    """The spec's model, identical on every rank (fully_shard keeps each rank's own weights)."""
    spec = resgen.load_spec(args.spec).spec
    if args.checkpoint:  # the same spec with every block checkpointed in training
        spec = spec.model_copy(update={"checkpoint": "blocks"})
    torch.manual_seed(args.seed)
    return resgen.build_model(spec, num_classes=args.classes)


def blocks(model: nn.Module) -> list[nn.Module]:
    """Every residual block, in order: the children of the stages `feature_info` names."""
    return [block for f in model.feature_info for block in model.get_submodule(f["module"])]


def shard(model: nn.Module, device: torch.device) -> nn.Module:
    """FSDP2: one unit per block, then the rest (stem, head) in the root unit."""
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for block in blocks(model):
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def batch_for(step: int, rank: int, world: int, args: argparse.Namespace) -> tuple[Any, Any]:
    """Rank `rank`'s share of step `step`'s global batch: the same data for any world size."""
    gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=gen)
    y = torch.randint(0, args.classes, (args.batch,), generator=gen)
    share = args.batch // world
    return x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]


def save(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int) -> None:
    model_state, optim_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optim_state, "step": torch.tensor(step)}
    dcp.save(state, checkpoint_id=str(path))


def load(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Load a checkpoint into the (sharded) model and optimizer; return its step."""
    model_state, optim_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optim_state, "step": torch.tensor(0)}
    dcp.load(state, checkpoint_id=str(path))
    set_state_dict(
        model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"]
    )
    return int(state["step"])


def train(args: argparse.Namespace, device: torch.device) -> list[float]:
    """Train from step 1 (or after the resumed one) to `args.steps`; return each step's loss."""
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch % world:
        raise SystemExit(f"--batch {args.batch} does not split among {world} processes")
    model = shard(build(args).to(device), device)
    if rank == 0:
        print(f"FSDP2: {len(blocks(model))} blocks sharded over {world} processes", flush=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    first = load(args.resume, model, optimizer) + 1 if args.resume else 1
    losses = []
    model.train()
    for step in range(first, args.steps + 1):
        x, y = (t.to(device) for t in batch_for(step, rank, world, args))
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # FSDP2 reduce-scatters the gradients: their average over ranks
        optimizer.step()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        losses.append(mean.item() / world)
        if rank == 0:
            print(f"step {step}: loss {losses[-1]:.6f}", flush=True)
        if args.save and step == args.save_at:
            save(args.save, model, optimizer, step)
    return losses


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if "RANK" not in os.environ:  # no torchrun: a group of one
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="29512")
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if cuda else None
    if device is not None:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        losses = train(args, device or torch.device("cpu"))
        if args.losses and dist.get_rank() == 0:
            args.losses.write_text(json.dumps(losses) + "\n", encoding="utf-8")
    finally:
        # FSDP2's modules sit in reference cycles that hold gloo work; freed at interpreter exit,
        # after the group is gone, they abort the process ("terminate called without an active
        # exception", about one run in two here). Free them first, while everything is alive.
        gc.collect()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
