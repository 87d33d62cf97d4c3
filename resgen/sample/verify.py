"""A last check before writing: the first and last sampled specs, loaded as any spec is and
analysed on the full graph, have the counts the closed-form counter gave them."""

from __future__ import annotations

from collections.abc import Mapping

from resgen.diagnostics import ResgenError
from resgen.sample.run import Sample


def verify_counts(files: Mapping[str, str], kept: list[Sample]) -> str | None:
    """None if they agree; else what differs (a bug in resgen, not in the space)."""
    from resgen.pipeline import check, load_data
    from resgen.spec.source import parse_text

    names = list(files)
    for index in sorted({0, len(kept) - 1} & set(range(len(kept)))):
        name = names[index]
        data, _ = parse_text(files[name], name, fmt="yaml")
        try:
            analysis = check(load_data(data, name))
        except ResgenError as exc:
            return f"the sampled spec {name} does not load: {exc}"
        counted = (kept[index].params, kept[index].macs)
        if (analysis.total_params, analysis.total_macs) != counted:
            return (
                f"{name}: the sampler counted {counted[0]:,} params and {counted[1]:,} MACs, "
                f"the graph {analysis.total_params:,} and {analysis.total_macs:,}"
            )
    return None
