"""YAML text -> plain data, recording the line and column of every value and key.

PyYAML's `compose()` keeps a mark on every node; this module turns the node graph into dicts,
lists and scalars itself, so that it can reject what `safe_load` would silently accept or choke
on: duplicate keys, alias bombs, recursive aliases, unknown tags, nesting too deep for Python's
stack, values the constructors raise on, characters YAML forbids, and plain values that YAML 1.1
and 1.2 read differently (`yaml_rules`). Every problem becomes a diagnostic, at a line and column
counted as editors count them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

from resgen.diagnostics import Diagnostic, Location, ResgenError, error
from resgen.spec.yaml_rules import Lines, unacceptable_characters, version_mismatch

if TYPE_CHECKING:
    from resgen.spec.source import Path, Source

# Each node of the expanded document costs one unit; an alias bomb (billion laughs) is refused
# by counting, before anything is built.
MAX_NODES = 100_000
MAX_NESTING = 100

_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"
_SCALAR_TAGS = {_TAG + t: t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_COLLECTION_TAGS = {_TAG + "map", _TAG + "seq", _TAG + "omap", _TAG + "set"}
_Pairs = list[tuple[yaml.Node, yaml.Node]]
_WHAT = {"int": "an integer", "float": "a number", "bool": "true or false", "timestamp": "a date"}


def load_yaml(text: str, source: Source) -> Any:
    """Parse YAML text into plain data, filling `source` with positions; raise ResgenError."""
    refused = list(unacceptable_characters(text, source.name))
    if refused:  # PyYAML would name only the first, by its offset
        raise ResgenError(refused)
    lines = Lines(text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ResgenError([_syntax_error(exc, text, source.name, lines)]) from None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise ResgenError([_too_deep(_first_too_deep(text, lines), source.name)]) from None
    except yaml.YAMLError as exc:
        raise ResgenError.single(
            "yaml-syntax", f"YAML syntax error: {exc}", Location(source.name)
        ) from None
    if node is None:
        return None
    _check_expansion(node, source, lines)
    converter = _YamlConverter(source, lines)
    data = converter.convert(node, ())
    if converter.diagnostics:
        raise ResgenError(converter.diagnostics)
    return data


# --- syntax errors ------------------------------------------------------------------------------

# PyYAML's "while ..." contexts: what is open, and what closes it.
_OPENED = {
    "while parsing a flow mapping": ("`{`", "its closing `}`"),
    "while parsing a flow sequence": ("`[`", "its closing `]`"),
    "while scanning a quoted scalar": ("quoted string", "its closing quote"),
}
_INDENT_HINT = (
    "keys of one mapping (and the `-` items of one list) must start in the same column; "
    "indent with spaces"
)


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, name: str, lines: Lines) -> Diagnostic:
    """Word a PyYAML error for people: where the mistake most likely is, and how to fix it."""
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    mark, context_mark = exc.problem_mark or exc.context_mark, exc.context_mark
    at_end = mark is not None and not text[mark.index :].strip()
    noun, fix = _OPENED.get(exc.context or "", ("", ""))
    hint = "check indentation, colons, quotes and brackets near this position"
    comma = _missing_comma(problem, mark.index, text) if mark else None
    if comma is not None:
        before, key, start = comma
        line, column = lines.at(start)
        return error(
            "yaml-syntax",
            f"YAML syntax error: missing comma between `{before}` and `{key}:` in a `{{...}}` "
            "mapping",
            Location(name, line, column),
            f"write `{before}, {key}:`: the pairs of a `{{...}}` mapping are separated by commas",
        )
    if noun and context_mark and at_end:
        mark = context_mark
        message, hint = f"the {noun} here is never closed (the file ends first)", f"add {fix}"
    elif noun and context_mark:
        line, column = lines.at(context_mark.index)
        message = f"{problem} (inside the {noun} opened at line {line}, column {column})"
        hint = f"is the {noun} on line {line} missing {fix}?"
    elif "'\\t'" in problem:
        message, hint = "a tab character: YAML indents with spaces only", "replace tabs by spaces"
    elif problem.startswith("expected <block end>"):
        message, hint = "this line's indentation does not fit the lines above it", _INDENT_HINT
    elif problem == "mapping values are not allowed here":
        message = "unexpected `:` (mapping values are not allowed here)"
        hint = (
            "either this `key: value` is indented deeper than the keys around it, or a value "
            "contains ': ' and needs quotes"
        )
    elif "another document" in problem:
        message = "the file holds a second YAML document (a `---` line)"
        hint = "a spec file is one document; put each spec in its own file"
    elif at_end:
        message = f"the file ends in the middle of a value ({problem})"
        hint = "something is not closed: a `[`, a `{` or a quote"
        return error("yaml-syntax", f"YAML syntax error: {message}", _end_of_text(text, name), hint)
    else:
        message = f"{problem} ({exc.context})" if exc.context and exc.problem else problem
        if "cannot start any token" in problem:
            hint = "a plain value cannot start with this character; put the value in quotes"
        elif problem == "sequence entries are not allowed here":
            hint = "start a `- item` list on the line below its key, or write `key: [a, b]`"
        elif "undefined alias" in problem:
            hint = "an alias `*name` needs an anchor `&name` on a value above it"
    line, col = lines.at(mark.index) if mark else (0, 0)
    return error("yaml-syntax", f"YAML syntax error: {message}", Location(name, line, col), hint)


def _missing_comma(problem: str, index: int, text: str) -> tuple[str, str, int] | None:
    """`{depth: 1 width: 64}`: the value before the `:` PyYAML stopped at is two words.

    Return the value's last word but one, the key the user meant to start, and its offset.
    """
    if not problem.startswith("expected ',' or '}', but got ':'"):
        return None
    start = max(text.rfind(c, 0, index) for c in ":{,")
    words = text[start + 1 : index].split()
    if len(words) < 2:
        return None
    key_at = text.rfind(words[-1], 0, index)
    if "\n" in text[start:key_at]:
        return None  # across lines, a `{` left open is likelier than a comma left out
    return words[-2], words[-1], key_at


def _end_of_text(text: str, name: str) -> Location:
    """Just after the last non-blank character: where an unfinished value stops."""
    body = text.rstrip()
    return Location(name, body.count("\n") + 1, len(body) - (body.rfind("\n") + 1) + 1)


def _first_too_deep(text: str, lines: Lines) -> tuple[int, int]:
    """Find the first node nested deeper than MAX_NESTING, walking events (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.NodeEvent) and depth >= MAX_NESTING and event.start_mark:
            return lines.at(event.start_mark.index)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return 1, 1


def _too_deep(where: tuple[int, int], name: str) -> Diagnostic:
    return error(
        "too-deep",
        f"values are nested more than {MAX_NESTING} levels deep",
        Location(name, *where),
        hint="a spec nests a few levels (stages -> a stage -> its keys); check the brackets",
    )


# --- alias bombs --------------------------------------------------------------------------------


def _check_expansion(root: yaml.Node, source: Source, lines: Lines) -> None:
    """Refuse a document whose aliases expand to more than MAX_NODES nodes, before expanding it."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        # An anchor is complete before its first alias, so only a recursive alias (which the
        # converter reports) finds this placeholder; recursion stays as deep as the text nests.
        sizes[id(node)] = 1
        total = 1 + sum(size(child) for child in _children(node))
        sizes[id(node)] = total
        return total

    total = size(root)
    if total <= MAX_NODES:
        return
    # Point at the innermost value that alone exceeds the limit: the repeated alias is in it.
    node = root
    while True:
        bigger = [c for c in _children(node) if sizes.get(id(c), 0) > MAX_NODES]
        if not bigger:
            break
        node = bigger[0]
    raise ResgenError.single(
        "too-many-nodes",
        f"the spec expands to {total:,} YAML nodes through its aliases (*name); "
        f"the limit is {MAX_NODES:,}",
        Location(source.name, *lines.at(node.start_mark.index)),
        hint="this value repeats aliases of values that repeat aliases (an alias bomb?); a spec "
        "needs a few dozen nodes",
    )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _first_defined(first: tuple[int, int] | None, here: tuple[int, int]) -> str:
    if first is None:
        return ""
    if first[0] == here[0]:
        return f" (first defined earlier on this line, column {first[1]})"
    return f" (first defined on line {first[0]})"


# --- conversion ---------------------------------------------------------------------------------


class _YamlConverter:
    def __init__(self, source: Source, lines: Lines) -> None:
        self.source = source
        self.lines = lines
        self.constructor = yaml.SafeLoader("")
        self.diagnostics: list[Diagnostic] = []
        self.active: set[int] = set()  # collections being converted: a repeat is a cycle

    def report(self, code: str, message: str, node: yaml.Node, hint: str | None = None) -> None:
        self.diagnostics.append(error(code, message, self._location(node), hint))

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.source.values.setdefault(path, self._where(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if len(path) >= MAX_NESTING:
            raise ResgenError([_too_deep(self._where(node), self.source.name)])
        if id(node) in self.active:
            self.report(
                "recursive-alias",
                "this alias refers to a value that contains it, so it never ends",
                node,
                hint="an alias (*name) must refer to an anchor (&name) outside itself",
            )
            return None
        if node.tag not in _COLLECTION_TAGS:
            self._unknown_tag(node)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _where(self, node: yaml.Node) -> tuple[int, int]:
        return self.lines.at(node.start_mark.index)

    def _location(self, node: yaml.Node) -> Location:
        return Location(self.source.name, *self._where(node))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        kind = _SCALAR_TAGS.get(node.tag)
        if kind is None:
            self._unknown_tag(node)
            return None
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (ValueError, KeyError, AttributeError, yaml.YAMLError):
            value = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            digits = len(re.sub(r"[^0-9]", "", node.value))
            extra = f" ({digits:,} digits)" if kind == "int" and digits > 40 else ""
            self.report(
                "invalid-value",
                f"cannot read {value!r} as {_WHAT.get(kind, kind)}{extra}",
                node,
                hint="a spec's numbers have a few digits"
                if extra
                else "write a plain number, true/false, or a quoted string",
            )
            return None
        # Only a plain scalar whose tag was implied by its text: `!!str on` and `"on"` are text.
        implied = self.constructor.resolve(  # type: ignore[no-untyped-call]
            yaml.ScalarNode, node.value, (True, False)
        )
        if node.style is None and node.tag == implied:
            mismatch = version_mismatch(node.value, (kind, value), self._location(node))
            if mismatch is not None:
                self.diagnostics.append(mismatch)
        return value

    def _unknown_tag(self, node: yaml.Node) -> None:
        tag = node.tag.replace(_TAG, "!!", 1) if node.tag.startswith(_TAG) else node.tag
        self.report(
            "yaml-tag",
            f"unsupported YAML tag {tag}",
            node,
            hint="specs hold plain mappings, lists, strings, numbers and booleans; remove the tag",
        )

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        own, merged = self._pairs(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in own:
            key = self._key(key_node)
            if key is None:
                continue
            if key in out:
                where = _first_defined(self.source.keys.get((*path, key)), self._where(key_node))
                self.report(
                    "duplicate-key",
                    f"duplicate key {key!r}{where}",
                    key_node,
                    hint="remove one of them; YAML would silently keep only the last",
                )
                continue
            self._add(out, path, key, key_node, value_node)
        # `<<: *base` merges: the mapping's own keys win, then earlier merged mappings.
        for key_node, value_node in merged:
            key = self._key(key_node)
            if key is not None and key not in out:
                self._add(out, path, key, key_node, value_node)
        return out

    def _add(self, out: dict[Any, Any], path: Path, key: str, key_node: yaml.Node,
             value_node: yaml.Node) -> None:  # fmt: skip
        self.source.keys[(*path, key)] = self._where(key_node)
        out[key] = self.convert(value_node, (*path, key))

    def _key(self, key_node: yaml.Node) -> str | None:
        if not isinstance(key_node, yaml.ScalarNode):
            self.report("invalid-key", "mapping keys must be plain names", key_node)
            return None
        return str(key_node.value)

    def _pairs(self, node: yaml.MappingNode) -> tuple[_Pairs, _Pairs]:
        """Split a mapping into its own pairs and the pairs its `<<` merge keys bring in."""
        own: _Pairs = []
        merged: _Pairs = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                own.append((key_node, value_node))
                continue
            bases = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for base in bases:
                if id(base) in self.active:
                    self.report(
                        "recursive-alias",
                        "`<<` merges a mapping into itself, so it never ends",
                        base,
                        hint="merge (`<<: *name`) a mapping anchored outside this one",
                    )
                    continue
                if not isinstance(base, yaml.MappingNode):
                    self.report(
                        "invalid-merge",
                        "`<<` can only merge mappings (`<<: *name` or `<<: [*a, *b]`), "
                        "not this value",
                        base,
                        hint="write `<<: *name` where `&name` anchors a mapping",
                    )
                    continue
                self.active.add(id(base))
                try:
                    base_own, base_merged = self._pairs(base)
                finally:
                    self.active.discard(id(base))
                merged += base_own + base_merged
        return own, merged
