"""`resgen schema`: the JSON Schema of the spec language, for editors."""

from __future__ import annotations

import argparse
import sys

from resgen.cli.common import EXIT_OK
from resgen.cli.options import add_format, add_output, report_into

HELP = "print the JSON Schema of the spec language"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_format(parser, ("json",), "json", "output format (a JSON Schema is JSON)")
    add_output(parser, "FILE", "write the schema to FILE instead of stdout", old_long=True)


def run(args: argparse.Namespace) -> int:
    from resgen.api import json_schema_text

    def body() -> int:
        sys.stdout.write(json_schema_text())
        return EXIT_OK

    return report_into(args.output, body)
