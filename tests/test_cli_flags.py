"""One flag vocabulary across `mgw` commands: -q/--quiet for progress output, --out-dir for an output folder."""
import argparse

from mgw.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "mgw"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_progress_switches_are_quiet_and_output_folders_are_out_dir():
    seen = 0
    for name, p in _parsers(build_parser()):
        opts = {s for a in p._actions for s in a.option_strings}
        if any("progress" in s for s in opts):
            assert {"-q", "--quiet"} <= opts, f"{name}: a progress switch without -q/--quiet"
            seen += 1
        for a in p._actions:
            folder = a.help and "folder" in a.help and "output" in a.help
            if folder:
                assert "--out-dir" in a.option_strings, f"{name}: output folder option {a.option_strings} is not --out-dir"
    assert seen >= 2  # tune and train really were checked


def test_quiet_and_out_dir_aliases_parse():
    p = build_parser()
    assert p.parse_args(["tune", "-q"]).progress is False
    assert p.parse_args(["train", "--quiet"]).no_progress is True
    assert p.parse_args(["scenario", "all", "--out-dir", "x"]).out == "x"
    assert p.parse_args(["scenario", "all", "--out", "y"]).out == "y"  # the old spelling still works
