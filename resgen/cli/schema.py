"""`resgen schema`: the JSON Schema of the spec language, for editors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from resgen.cli.common import EXIT_FINDINGS, EXIT_OK, write_output

HELP = "print the JSON Schema of the spec language"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--out", metavar="FILE", help="write the schema to FILE instead of stdout"
    )


def run(args: argparse.Namespace) -> int:
    from resgen.api import json_schema_text

    text = json_schema_text()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    return EXIT_OK if write_output(Path(args.out), text) else EXIT_FINDINGS
