"""`resgen resolve`: a spec with its `extends` bases merged in, as resgen sees it."""

from __future__ import annotations

import argparse
import sys

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, add_extends_root, load_or_report

HELP = "print a spec with its `extends` bases merged in"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="spec file or built-in name")
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml", help="format")
    parser.add_argument("--defaults", action="store_true", help="also print every defaulted field")
    add_extends_root(parser)


def run(args: argparse.Namespace) -> int:
    from resgen.spec.resolve import dump_resolved

    loaded = load_or_report(args.spec, args.extends_root)
    if loaded is None:
        return EXIT_FINDINGS
    sys.stdout.write(dump_resolved(loaded.spec, fmt=args.output, defaults=args.defaults))
    return EXIT_OK
