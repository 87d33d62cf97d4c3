"""A generated model trains under DistributedDataParallel: 2 CPU processes, gloo, loopback."""

from __future__ import annotations

import datetime
import socket
from pathlib import Path
from typing import Any

import pytest

WORLD_SIZE = 2
STEPS = 3
BATCH = 4

# resnet18's layout at toy size: a 32x32 input, widths 8/16, one block per stage.
TINY_SPEC: dict[str, Any] = {
    "name": "tiny_resnet",
    "input": {"channels": 3, "size": 32},
    "stem": {"type": "conv7", "width": 8},
    "block": {"type": "basic"},
    "stages": [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2}],
    "head": {"classes": 10},
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _train(rank: int, port: int, out_dir: str) -> None:
    """One replica: build the model in memory, train a few steps, save its final parameters."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    import resgen

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        # A different seed per rank: DDP must broadcast rank 0's weights at construction.
        torch.manual_seed(rank)
        model = DistributedDataParallel(resgen.build_model(TINY_SPEC))
        initial = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        data = torch.Generator().manual_seed(100 + rank)  # each rank sees its own batches
        losses = []
        for _ in range(STEPS):
            x = torch.randn(BATCH, 3, 32, 32, generator=data)
            y = torch.randint(0, 10, (BATCH,), generator=data)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        # Each rank's last forward updated its BN statistics from its own batch; the next
        # forward (with grad enabled) broadcasts rank 0's first. Eval mode keeps them as sent.
        model.eval()
        probe = model(torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(7)))
        torch.save(
            {
                "initial": initial,
                "final": torch.cat([p.detach().flatten() for p in model.parameters()]),
                "buffers": torch.cat([b.float().flatten() for b in model.module.buffers()]),
                "probe": probe.detach(),
                "losses": losses,
            },
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_replicas_stay_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    import torch.multiprocessing as mp

    # Loopback only: keep gloo off any other interface the machine may have.
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    mp.spawn(_train, args=(_free_port(), str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    runs = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD_SIZE)]
    assert torch.equal(runs[0]["initial"], runs[1]["initial"])  # rank 0's weights everywhere
    assert torch.equal(runs[0]["final"], runs[1]["final"])  # bitwise: same averaged gradients
    assert torch.equal(runs[0]["buffers"], runs[1]["buffers"])  # BN statistics broadcast too
    assert torch.equal(runs[0]["probe"], runs[1]["probe"])  # the replicas are one function
    assert not torch.equal(runs[0]["initial"], runs[0]["final"])  # it did train
    assert runs[0]["losses"] != runs[1]["losses"]  # on different data per rank
    assert all(torch.isfinite(torch.tensor(r["losses"])).all() for r in runs)
