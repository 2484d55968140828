"""Argument styles every `mgw` command shares, defined once so the CLI reads the same everywhere
(`--out-dir`, `-q/--quiet`, and lists)."""
from __future__ import annotations

import argparse
from typing import Callable


def add_list_option(parser: argparse.ArgumentParser, flag: str, help: str, item: Callable[[str], object] = str,
                    **kwargs) -> None:
    """A list option in the one style of the CLI: space-separated (`--backends hnswlib faiss`); commas and
    repeats are accepted too (`--backends hnswlib,faiss`, `--backends hnswlib --backends faiss`)."""

    def items(value: str) -> list[object]:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"{flag} needs at least one name, got {value!r}")
        return [item(p) for p in parts]

    parser.add_argument(flag, nargs="+", action=_Flatten, type=items, default=None, help=help, **kwargs)


class _Flatten(argparse.Action):
    """Appends every item of every value (each value is already a list) to the option's list."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = list(getattr(namespace, self.dest) or [])
        setattr(namespace, self.dest, current + [x for value in values for x in value])
