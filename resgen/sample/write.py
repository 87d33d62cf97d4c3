"""What `resgen sample -o DIR/` writes: DIR/specs/ with one spec per kept network (a folder
`resgen check`, `build` and `draw` take as it is), DIR/samples.csv and DIR/samples.json.

The files are rendered in memory, written into a fresh folder beside DIR and renamed into place,
so DIR holds every file of one run or does not exist: never half of a run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from resgen.sample.constraints import Window
from resgen.sample.run import Sample, Tally
from resgen.sample.space import Space
from resgen.spec.resolve import yaml_entry

_DROPPED = ("name", "class_name", "description", "extends")


def spec_name(space: Space, index: int, n: int) -> str:
    return f"{space.name}_{index:0{max(4, len(str(n - 1)))}d}"


def render_spec(space: Space, sample: Sample, index: int, n: int, seed: int) -> str:
    """A sampled network as a spec file in the shipped specs' style; it loads on its own."""
    name = spec_name(space, index, n)
    lines = [
        f"# Network {index} drawn from the design space {space.name} (seed {seed}).\n",
        yaml_entry("name", name),
        yaml_entry("description", f"{space.name} sample {index} (seed {seed})"),
    ]
    lines += [yaml_entry(k, v) for k, v in space.fixed_data.items() if k not in _DROPPED]
    if space.form == "regnet":
        lines.append(yaml_entry("regnet", {**sample.drawn, **space.regnet_extra}))
    else:
        lines.append(yaml_entry("stages", _stage_entries(space, sample)))
    return "".join(lines)


def _stage_entries(space: Space, sample: Sample) -> list[dict[str, Any]]:
    entries = []
    for (depth, width, group_width, ratio), stride in zip(
        sample.stages, space.strides, strict=True
    ):
        entry: dict[str, Any] = {"depth": depth, "width": width}
        if stride != 1:
            entry["stride"] = stride
        entry["group_width"] = group_width
        entry["bottleneck_ratio"] = ratio
        entries.append(entry)
    return entries


def render_table(
    space: Space, samples: list[Sample], tally: Tally, seed: int, windows: Mapping[str, Window]
) -> tuple[str, str]:
    """samples.csv and samples.json: every drawn value, the stages and the counts."""
    n = len(samples)
    rows = [_row(space, s, i, n) for i, s in enumerate(samples)]
    text = io.StringIO()
    writer = csv.DictWriter(
        text, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    document = {
        "space": space.name,
        "source": space.source.name,
        "seed": seed,
        "n": n,
        "windows": {k: [w.low, w.high] for k, w in windows.items()},
        "tally": {
            "candidates": tally.candidates,
            "unbuildable": tally.unbuildable,
            "stage_count": tally.stage_count,
            "window": tally.window,
            "duplicate": tally.duplicate,
            "kept": tally.kept,
            "acceptance": tally.acceptance,
        },
        "samples": [_entry(space, s, i, n) for i, s in enumerate(samples)],
    }
    return text.getvalue(), json.dumps(document, indent=2) + "\n"


def _row(space: Space, sample: Sample, index: int, n: int) -> dict[str, Any]:
    row: dict[str, Any] = {"name": spec_name(space, index, n)}
    for key, value in sample.drawn.items():
        if isinstance(value, list):
            row.update({f"{key}_{s + 1}": v for s, v in enumerate(value)})
        else:
            row[key] = value
    row["num_stages"] = len(sample.stages)
    for column, position in (("depths", 0), ("widths", 1), ("group_widths", 2)):
        row[column] = "-".join(str(stage[position]) for stage in sample.stages)
    row["bottleneck_ratios"] = "-".join(f"{stage[3]:g}" for stage in sample.stages)
    row.update(params=sample.params, macs=sample.macs, acts=sample.acts)
    return row


def _entry(space: Space, sample: Sample, index: int, n: int) -> dict[str, Any]:
    name = spec_name(space, index, n)
    stages = [
        {"depth": d, "width": w, "group_width": g, "bottleneck_ratio": b}
        for d, w, g, b in sample.stages
    ]
    return {
        "name": name,
        "file": f"specs/{name}.yaml",
        "drawn": sample.drawn,
        "stages": stages,
        "params": sample.params,
        "macs": sample.macs,
        "acts": sample.acts,
    }


def write_folder(target: Path, files: Mapping[str, str | bytes]) -> None:
    """Write `files` as a new folder at `target`, all at once; OSError if it cannot.

    FileExistsError when `target` is there and not empty: a run never mixes with another's files.
    """
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(0, "it exists and is not an empty folder", str(target))
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        for name, content in files.items():
            (temporary / name).parent.mkdir(exist_ok=True)
            data = content.encode("utf-8") if isinstance(content, str) else content
            (temporary / name).write_bytes(data)
        os.chmod(temporary, 0o777 & ~_umask())
        if target.exists():
            target.rmdir()
        temporary.rename(target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
