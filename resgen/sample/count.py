"""Params, MACs and activations of a batch of RegNet-block networks, in closed form (numpy).

The same convention as `resgen.checks.counts` (MACs of convs and linear layers, biases
ignored; norm affines are parameters), summed per stage instead of per node: a stage's blocks
after its first are identical, so a stage costs one first block plus (depth - 1) repeats.
Activations are the elements every conv and linear layer outputs, pycls's `acts`.
tests/test_sample_count.py checks every total against the graph analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resgen.sample.family import Family
from resgen.sample.resolve import Ints, Stages


@dataclass(frozen=True)
class Counts:
    params: Ints  # (B,)
    macs: Ints
    acts: Ints


def _out(size: int, stride: int) -> int:
    """A 3x3 (padding 1) or 1x1 (padding 0) conv's output size."""
    return (size - 1) // stride + 1


def count_batch(stages: Stages, strides: tuple[int, ...], family: Family) -> Counts:
    """Totals for every row of `stages`; `strides`: each stage's, in order."""
    f = family
    rows = len(stages.count)
    h, w = _out(f.height, 2), _out(f.width, 2)
    stem_norm = f.norm_params * f.stem_width if f.stem_norm else 0
    params = np.full(rows, f.in_channels * f.stem_width * 9 + stem_norm, dtype=np.int64)
    macs = np.full(rows, f.stem_width * h * w * f.in_channels * 9, dtype=np.int64)
    acts = np.full(rows, f.stem_width * h * w, dtype=np.int64)
    cin = np.full(rows, f.stem_width, dtype=np.int64)
    mids, groups = stages.mid, stages.groups
    for s in range(stages.depth.shape[1]):
        used = s < stages.count
        stride = strides[s] if s < len(strides) else 2
        ho, wo = _out(h, stride), _out(w, stride)
        cout, mid = stages.width[:, s], mids[:, s]
        per_group = mid // np.maximum(groups[:, s], 1)
        first = _block(cin, cout, mid, per_group, (h * w, ho * wo), stride != 1 or None, f)
        repeat = _block(cout, cout, mid, per_group, (ho * wo, ho * wo), False, f)
        depth = np.where(used, stages.depth[:, s], 0)
        for total, a, b in zip((params, macs, acts), first, repeat, strict=True):
            total += np.where(used, a + (depth - 1) * b, 0)
        cin = np.where(used, cout, cin)
        h, w = ho, wo
    params += cin * f.classes + f.classes
    macs += cin * f.classes
    acts += f.classes
    return Counts(params, macs, acts)


def _block(
    cin: Ints,
    cout: Ints,
    mid: Ints,
    per_group: Ints,
    areas: tuple[int, int],
    strided: bool | None,
    f: Family,
) -> tuple[Ints, Ints, Ints]:
    """One regnet block's (params, MACs, activations): 1x1, grouped 3x3, SE, 1x1, projection.

    `strided`: True or False says whether the block projects its shortcut; None: where its
    input and output widths differ.
    """
    area_in, area = areas
    norm = f.norm_params
    params = cin * mid + norm * mid + 9 * mid * per_group + norm * mid + mid * cout + norm * cout
    macs = mid * area_in * cin + mid * area * per_group * 9 + cout * area * mid
    acts = mid * area_in + mid * area + cout * area
    if f.se_ratio:
        hidden = np.rint(f.se_ratio * cin).astype(np.int64)
        params = params + 2 * mid * hidden + hidden + mid
        macs = macs + 2 * mid * hidden
        acts = acts + hidden + mid
    project = np.ones_like(cin, dtype=bool) if strided else cin != cout
    if strided is False:
        project = np.zeros_like(cin, dtype=bool)
    params = params + np.where(project, cin * cout + norm * cout, 0)
    macs = macs + np.where(project, cout * area * cin, 0)
    acts = acts + np.where(project, cout * area, 0)
    return params, macs, acts
