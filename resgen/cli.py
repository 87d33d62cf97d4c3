"""The command line: the only place that prints or exits.

Exit codes: 0 ok, 1 findings (an invalid spec, drift under --check), 2 usage or internal error.
Human text goes to stderr, machine output (-o json) to stdout.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from resgen import __version__
from resgen.diagnostics import Diagnostic, Location, ResgenError, error, has_errors
from resgen.draw import DETAILS as DRAW_DETAILS
from resgen.draw import RANKDIRS
from resgen.files import write_atomic
from resgen.spec.load import SPEC_SUFFIXES, display_name, resolve_spec_path

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
ISSUES_URL = "https://github.com/resgen/resgen/issues"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"resgen: error: {message}\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="resgen",
        description="Compile ResNet-family specs (YAML/JSON) into checked, standalone PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"resgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("build", help="check specs and generate one PyTorch file per spec")
    p.add_argument(
        "specs", nargs="+", metavar="SPEC_OR_DIR", help="spec files, directories or built-in names"
    )
    p.add_argument(
        "-o",
        "--out",
        default="generated",
        metavar="DIR",
        help="output directory (default: generated/)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; print a diff and exit 1 if any file would change",
    )
    p.add_argument(
        "--deploy",
        action="store_true",
        help="also write <name>_deploy.py: an inference module with its norms folded into convs",
    )

    p = sub.add_parser("check", help="validate specs and their graphs; exit 1 on any error")
    p.add_argument("specs", nargs="+", metavar="SPEC_OR_DIR")
    p.add_argument(
        "-o",
        "--output",
        choices=("text", "json", "github"),
        default="text",
        help="diagnostics format",
    )

    p = sub.add_parser("info", help="per-stage table of shapes, params and MACs")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument(
        "-o",
        "--output",
        choices=("text", "json", "markdown", "latex"),
        default="text",
        help="output format (markdown and latex: the ResNet paper's Table 1 style)",
    )
    p.add_argument("--per-block", action="store_true", help="list every block, not only stages")

    p = sub.add_parser("draw", help="draw the network with Graphviz: SVG, PNG, PDF or DOT")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument(
        "-o",
        "--out",
        metavar="OUT",
        help="output file; the format is its extension: .svg, .png, .pdf or .dot; a directory "
        "gets <name>.svg; - prints the DOT text (default: <name>.svg here)",
    )
    p.add_argument(
        "--detail", choices=DRAW_DETAILS, default="block", help="one node per stage, block or op"
    )
    p.add_argument("--rankdir", choices=RANKDIRS, default="TB", help="top-bottom or left-right")

    p = sub.add_parser("schema", help="print the JSON Schema of the spec language")
    p.add_argument("-o", "--out", metavar="FILE", help="write the schema to FILE instead of stdout")

    p = sub.add_parser("diff", help="what changes from spec A to spec B: fields, shapes, counts")
    p.add_argument("spec_a", metavar="A", help="spec file or built-in name")
    p.add_argument("spec_b", metavar="B", help="spec file or built-in name")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")

    p = sub.add_parser("resolve", help="print a spec with its `extends` bases merged in")
    p.add_argument("spec", metavar="SPEC", help="spec file or built-in name")
    p.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml", help="format")
    p.add_argument("--defaults", action="store_true", help="also print every defaulted field")

    p = sub.add_parser(
        "probe", help="gradient norms and activations of every block at initialisation (torch)"
    )
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files or built-in names")
    p.add_argument(
        "--twin", action="store_true", help="also probe each spec's plain twin (shortcut: none)"
    )
    p.add_argument(
        "--norm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="--no-norm probes the specs with `norm: {type: none}`",
    )
    p.add_argument("--seed", type=int, default=0, help="seeds weights, input and labels")
    p.add_argument("--batch", type=_batch_size, default=32, help="batch size (default 32)")
    p.add_argument(
        "-o",
        "--output",
        default="text",
        metavar="FORMAT",
        help="text (a table, the default), json, or a plot file ending in .png, .svg or .pdf",
    )
    return parser


def _batch_size(text: str) -> int:
    value = int(text)
    if value < 2:  # batch norm needs two samples to have a batch statistic
        raise argparse.ArgumentTypeError("the batch needs at least 2 samples")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        command = {
            "build": cmd_build, "check": cmd_check, "info": cmd_info,
            "schema": cmd_schema, "diff": cmd_diff, "draw": cmd_draw, "resolve": cmd_resolve,
            "probe": cmd_probe,
        }[args.command]  # fmt: skip
        return command(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the last line of defence: never a bare traceback
        _err(f"resgen: internal error: {type(exc).__name__}: {exc}")
        _err(
            f"This is a bug in resgen {__version__}, not in your spec; "
            f"please report it at {ISSUES_URL}"
        )
        if os.environ.get("RESGEN_DEBUG"):
            traceback.print_exc()
        else:
            _err("(set RESGEN_DEBUG=1 to see the traceback)")
        return EXIT_USAGE


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _print_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str = "text") -> None:
    for d in diagnostics:
        if fmt == "github":
            print(d.format_github())
        else:
            _err(d.format())


def expand_specs(args: Sequence[str]) -> tuple[list[tuple[Path, str]], list[Diagnostic]]:
    """Turn CLI arguments into spec files: files as given, directories' specs, built-in names."""
    found: list[tuple[Path, str]] = []
    problems: list[Diagnostic] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            files = sorted(
                p for p in path.iterdir() if p.suffix.lower() in SPEC_SUFFIXES and p.is_file()
            )
            if not files:
                problems.append(error("no-specs", f"no .yaml, .yml or .json specs in {arg}/", None))
            found.extend((p, display_name(p)) for p in files)
            continue
        try:
            found.append(resolve_spec_path(arg))
        except ResgenError as exc:
            problems.extend(exc.diagnostics)
    return found, problems


def cmd_check(args: argparse.Namespace) -> int:
    from resgen.pipeline import check
    from resgen.spec.load import load_spec_file

    files, problems = expand_specs(args.specs)
    report: list[dict[str, object]] = []
    all_diagnostics = list(problems)
    for path, name in files:
        try:
            loaded = load_spec_file(path, name)
            analysis = check(loaded)
            diagnostics = [loaded.source.attach(d) for d in analysis.diagnostics]
            summary = (
                f"{analysis.total_params:,} params, {analysis.total_macs:,} MACs; "
                f"valid inputs: {analysis.sizes.summary}"
            )
        except ResgenError as exc:
            diagnostics, summary = exc.diagnostics, ""
        all_diagnostics.extend(diagnostics)
        ok = not has_errors(diagnostics)
        report.append({"file": name, "ok": ok, "diagnostics": [d.to_json() for d in diagnostics]})
        if args.output != "json":
            _print_diagnostics(diagnostics, args.output)
            if ok and args.output == "text":
                _err(f"{name}: ok ({summary})")
    if args.output == "json":
        print(json.dumps({"files": report, "problems": [d.to_json() for d in problems]}, indent=2))
    else:
        _print_diagnostics(problems, args.output)
    if args.output == "text":
        failed = sum(1 for r in report if not r["ok"])
        _err(f"checked {len(report)} spec{'s' if len(report) != 1 else ''}: {failed} with errors")
    return EXIT_FINDINGS if has_errors(all_diagnostics) else EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from resgen.pipeline import compile_file

    files, problems = expand_specs(args.specs)
    _print_diagnostics(problems)
    out_dir = Path(args.out)
    failed = bool(problems)
    outputs: dict[str, str] = {}
    drift = 0
    for path, name in files:
        try:
            compiled = compile_file(path, name)
        except ResgenError as exc:
            _print_diagnostics(exc.diagnostics)
            failed = True
            continue
        spec = compiled.loaded.spec
        if spec.name in outputs:
            _err(
                error(
                    "duplicate-name",
                    f"two specs are named {spec.name!r}: {outputs[spec.name]} and {name}",
                    compiled.loaded.source.locate(("name",)),
                    hint="each spec's `name` becomes its output file and must be unique",
                ).format()
            )
            failed = True
            continue
        outputs[spec.name] = name
        assert compiled.source is not None
        texts = {out_dir / f"{spec.name}.py": compiled.source}
        if args.deploy:
            from resgen.codegen.deploy import render_deploy_source

            deploy = render_deploy_source(compiled.loaded, compiled.analysis)
            texts[out_dir / f"{spec.name}_deploy.py"] = deploy
        for target, text in texts.items():
            if args.check:
                drift += _report_drift(target, text)
            elif not _write(target, text, f" ({name})"):
                failed = True
    if args.check and drift:
        _err(
            f"{drift} generated file{'s' if drift != 1 else ''} out of date; "
            f"run: resgen build {' '.join(args.specs)} -o {args.out}"
            + (" --deploy" if args.deploy else "")
        )
    if failed:
        return EXIT_FINDINGS
    return EXIT_FINDINGS if drift else EXIT_OK


def _report_drift(target: Path, text: str) -> int:
    old = target.read_text(encoding="utf-8") if target.is_file() else ""
    if old == text:
        return 0
    label = display_name(target)
    diff = difflib.unified_diff(
        old.splitlines(keepends=True), text.splitlines(keepends=True),
        fromfile=f"{label} (on disk)" if old else "/dev/null", tofile=f"{label} (from spec)",
    )  # fmt: skip
    sys.stdout.writelines(diff)
    return 1


def _write(target: Path, content: str | bytes, what: str = "") -> bool:
    """Write one output and say so; an `unwritable` diagnostic and False when it cannot."""
    try:
        changed = write_atomic(target, content)
    except OSError as exc:
        _err(
            error(
                "unwritable",
                f"cannot write {display_name(target)}: {exc.strerror or exc}",
                Location(str(target)),
                hint="check that the output path (-o) is in a writable directory",
            ).format()
        )
        return False
    _err(f"{'wrote' if changed else 'unchanged'} {display_name(target)}{what}")
    return True


def cmd_info(args: argparse.Namespace) -> int:
    from resgen.api import load_spec
    from resgen.pipeline import check
    from resgen.report import info_json, info_table

    try:
        loaded = load_spec(args.spec)
    except ResgenError as exc:
        _print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    analysis = check(loaded)
    diagnostics = [loaded.source.attach(d) for d in analysis.diagnostics]
    _print_diagnostics(diagnostics)
    if args.output == "json":
        print(json.dumps(info_json(loaded, analysis, per_block=args.per_block), indent=2))
    elif args.output in ("markdown", "latex"):
        from resgen.report import info_latex, info_markdown

        render = info_markdown if args.output == "markdown" else info_latex
        sys.stdout.write(render(loaded, analysis, per_block=args.per_block))
    else:
        info_table(loaded, analysis, per_block=args.per_block)
    return EXIT_FINDINGS if has_errors(diagnostics) else EXIT_OK


def cmd_draw(args: argparse.Namespace) -> int:
    from resgen.draw import draw_dot
    from resgen.draw.render import DotMissingError, RenderFailedError, render
    from resgen.pipeline import check
    from resgen.spec.load import load_spec_file

    if args.out not in (None, "-") and _draw_target(args.out, "x") is None:
        return EXIT_USAGE
    try:
        loaded = load_spec_file(*resolve_spec_path(args.spec))
    except ResgenError as exc:
        _print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    analysis = check(loaded)
    diagnostics = [loaded.source.attach(d) for d in analysis.diagnostics]
    _print_diagnostics(diagnostics)
    text = draw_dot(loaded, analysis, args.detail, args.rankdir)
    code = EXIT_FINDINGS if has_errors(diagnostics) else EXIT_OK
    if args.out == "-":
        sys.stdout.write(text)
        return code
    found = _draw_target(args.out or ".", loaded.spec.name)
    assert found is not None
    target, fmt = found
    try:
        data = render(text, fmt)
    except DotMissingError as exc:
        target, data = target.with_suffix(".dot"), text.encode("utf-8")
        _err(f"warning: Graphviz's `dot` is not on PATH, so this writes the DOT text; {exc}")
    except RenderFailedError as exc:
        _err(error("render-failed", f"Graphviz could not render the drawing: {exc}").format())
        return EXIT_USAGE
    return code if _write(target, data, f" ({args.detail} detail)") else EXIT_FINDINGS


def _draw_target(out: str, name: str) -> tuple[Path, str] | None:
    """Where `draw -o OUT` writes and in which format; a diagnostic and None if it cannot."""
    from resgen.diagnostics import Location
    from resgen.draw.render import DEFAULT_SUFFIX, format_of

    target = Path(out)
    if target.is_dir() or out.endswith(("/", os.sep)):
        target = target / f"{name}{DEFAULT_SUFFIX}"
    fmt = format_of(target)
    if fmt is None:
        what = f"extension {target.suffix!r}" if target.suffix else "no extension"
        _err(
            error(
                "unknown-format", f"cannot draw to {out}: {what}", Location(out),
                hint="end the file name in .svg, .png, .pdf or .dot",
            ).format()
        )  # fmt: skip
        return None
    return target, fmt


def cmd_schema(args: argparse.Namespace) -> int:
    from resgen.api import json_schema_text

    text = json_schema_text()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    return EXIT_OK if _write(Path(args.out), text) else EXIT_FINDINGS


def cmd_diff(args: argparse.Namespace) -> int:
    from resgen.api import diff_specs
    from resgen.diff import format_diff

    try:
        diff = diff_specs(args.spec_a, args.spec_b)
    except ResgenError as exc:
        _print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    if args.output == "json":
        print(json.dumps(diff.to_json(), indent=2))
    else:
        sys.stdout.write(format_diff(diff))
    return EXIT_OK


def cmd_resolve(args: argparse.Namespace) -> int:
    from resgen.spec.load import load_spec_file
    from resgen.spec.resolve import dump_resolved

    try:
        path, name = resolve_spec_path(args.spec)
        loaded = load_spec_file(path, name)
    except ResgenError as exc:
        _print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    sys.stdout.write(dump_resolved(loaded.spec, fmt=args.output, defaults=args.defaults))
    return EXIT_OK


def cmd_probe(args: argparse.Namespace) -> int:
    from rich.console import Console

    from resgen.api import check_spec
    from resgen.probe import (
        PLOT_SUFFIXES,
        is_plain,
        plot_results,
        probe_specs,
        results_json,
        results_table,
        strip_norm,
    )

    plot = None if args.output in ("text", "json") else Path(args.output)
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        _err(
            error(
                "unknown-format", f"cannot probe to {args.output}", None,
                hint="use -o text, -o json, or a plot file ending in .png, .svg or .pdf",
            ).format()
        )  # fmt: skip
        return EXIT_USAGE
    specs, problems = [], []
    for source in args.specs:
        try:
            specs.append(check_spec(source)[0].spec)
        except ResgenError as exc:
            problems.extend(exc.diagnostics)
    _print_diagnostics(problems)
    if has_errors(problems):
        return EXIT_FINDINGS
    missing = [m for m in ("torch", *(["matplotlib"] if plot else [])) if not _importable(m)]
    if missing:
        _err(f"resgen probe needs {' and '.join(missing)}: pip install 'resgen[probe]'")
        return EXIT_USAGE
    for spec in specs if args.twin else ():
        if is_plain(spec):
            _err(f"note: {spec.name} has no residual add, so it has no plain twin")
    try:
        specs = specs if args.norm else [strip_norm(spec) for spec in specs]
        results = probe_specs(specs, twin=args.twin, seed=args.seed, batch=args.batch)
    except ResgenError as exc:  # a twin or a norm-less variant that does not check
        _print_diagnostics(exc.diagnostics)
        return EXIT_FINDINGS
    if args.output == "json":
        print(json.dumps(results_json(results), indent=2))
        return EXIT_OK
    Console(stderr=plot is not None).print(results_table(results))
    if plot is not None:
        plot_results(results, plot)
        _err(f"wrote {display_name(plot)}")
    return EXIT_OK


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    sys.exit(main())
