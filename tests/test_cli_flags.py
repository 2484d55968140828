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


def test_every_list_option_takes_one_style():
    """`--backends a b`, `--backends a,b` and repeats give the same list on every command with a list option."""
    p = build_parser()
    checked = 0
    for name, sub in _parsers(p):
        for a in sub._actions:
            if a.nargs == "+" and a.option_strings:
                assert type(a).__name__ == "_Flatten", f"{name} {a.option_strings[0]}: a list option of another style"
                checked += 1
    assert checked >= 5  # bench --datasets/--backends, tune --backends, scale --sizes/--stages/--backends
    forms = [["--backends", "hnswlib", "faiss"], ["--backends", "hnswlib,faiss"],
             ["--backends", "hnswlib", "--backends", "faiss"]]
    for cmd in (["bench"], ["tune"], ["scale"]):
        assert {tuple(p.parse_args(cmd + f).backends) for f in forms} == {("hnswlib", "faiss")}
    assert p.parse_args(["scale", "--sizes", "10k,30k", "1m"]).sizes == [10_000, 30_000, 1_000_000]


def test_benchmarks_are_subcommands_everywhere():
    """One style for benchmarks: `mgw <area> bench` (the old `mgw search --bench` parses but is not advertised)."""
    benches = []
    for name, sub in _parsers(build_parser()):
        visible = {s for a in sub._actions if a.help != argparse.SUPPRESS for s in a.option_strings}
        assert "--bench" not in visible, f"{name}: a benchmark flag instead of a `bench` subcommand"
        if name.endswith(" bench"):
            benches.append(name)
    assert {"mgw cache bench", "mgw serve bench", "mgw store bench", "mgw hypergraph bench"} <= set(benches)
    assert "`mgw search bench`" in build_parser()._subparsers._group_actions[0].choices["search"].description
