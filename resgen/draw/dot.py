"""A drawing as plain data, and its DOT text: a tiny deterministic writer.

The `graphviz` package only renders; writing the text here keeps it byte-identical across runs
and versions, so it can be golden-tested. Labels are Graphviz HTML-like labels (`Html`), every
other attribute value is a quoted string.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Attrs = Mapping[str, str]


class Html(str):
    """A Graphviz HTML-like label body, already escaped; written as `<...>`."""

    __slots__ = ()


def escape(text: str) -> str:
    """Escape text for an HTML-like label."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def html_lines(*lines: str) -> Html:
    """Join already-escaped HTML fragments with line breaks."""
    return Html("<br/>".join(lines))


@dataclass(frozen=True)
class Node:
    id: str
    label: Html
    attrs: Attrs = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    attrs: Attrs = field(default_factory=dict)


@dataclass(frozen=True)
class Cluster:
    id: str
    label: Html
    items: tuple[Node | Cluster, ...]
    attrs: Attrs = field(default_factory=dict)


@dataclass(frozen=True)
class Drawing:
    """What a view decided to draw; `to_dot` only lays it out as text."""

    name: str
    title: Html
    items: tuple[Node | Cluster, ...]
    edges: tuple[Edge, ...]
    attrs: Attrs = field(default_factory=dict)

    def nodes(self) -> list[Node]:
        return list(_walk_nodes(self.items))

    def clusters(self) -> list[Cluster]:
        return list(_walk_clusters(self.items))


def _walk_nodes(items: Iterable[Node | Cluster]) -> Iterable[Node]:
    for item in items:
        if isinstance(item, Node):
            yield item
        else:
            yield from _walk_nodes(item.items)


def _walk_clusters(items: Iterable[Node | Cluster]) -> Iterable[Cluster]:
    for item in items:
        if isinstance(item, Cluster):
            yield item
            yield from _walk_clusters(item.items)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _value(value: str) -> str:
    return f"<{value}>" if isinstance(value, Html) else quote(value)


def format_attrs(attrs: Attrs) -> str:
    return ", ".join(f"{key}={_value(value)}" for key, value in attrs.items())


DEFAULTS: dict[str, Attrs] = {
    "node": {"fontname": "Helvetica", "fontsize": "11", "shape": "box", "penwidth": "1"},
    "edge": {"fontname": "Helvetica", "fontsize": "9", "fontcolor": "#555555", "arrowsize": "0.7"},
}


def to_dot(drawing: Drawing) -> str:
    """Write a drawing as DOT text, `\\n`-terminated, in the drawing's own order."""
    graph_attrs = {"label": drawing.title, "labelloc": "t", "fontname": "Helvetica"}
    lines = [f"digraph {quote(drawing.name)} {{"]
    lines.append(f"  graph [{format_attrs({**graph_attrs, **drawing.attrs})}];")
    for kind, defaults in DEFAULTS.items():
        lines.append(f"  {kind} [{format_attrs(defaults)}];")
    _write_items(lines, drawing.items, "  ")
    for edge in drawing.edges:
        attrs = f" [{format_attrs(edge.attrs)}]" if edge.attrs else ""
        lines.append(f"  {quote(edge.src)} -> {quote(edge.dst)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _write_items(lines: list[str], items: Iterable[Node | Cluster], indent: str) -> None:
    for item in items:
        if isinstance(item, Node):
            attrs = {"label": item.label, **item.attrs}
            lines.append(f"{indent}{quote(item.id)} [{format_attrs(attrs)}];")
            continue
        lines.append(f"{indent}subgraph {quote('cluster_' + item.id)} {{")
        graph_attrs = {"label": item.label, **item.attrs}
        lines.append(f"{indent}  graph [{format_attrs(graph_attrs)}];")
        _write_items(lines, item.items, indent + "  ")
        lines.append(f"{indent}}}")
