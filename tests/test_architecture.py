"""The import direction of docs/ARCHITECTURE.md: lower layers never import higher ones; nothing imports cli."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "mgw"
LAYERS = [  # lowest first
    {"config", "errors", "reporting", "provenance", "claims", "findings", "notebook", "plotstyle", "argstyle"},
    {"data", "embed"},
    {"index"},
    {"rerank", "hypergraph", "query", "cache", "store", "testing"},
    {"search", "bench", "tune", "abtest", "sim", "serve", "scale", "distributed"},
    {"cli", "report_commands", "report_index", "doctor", "__main__"},
]


def layer_of(module: str) -> int:
    parts = module.split(".")
    if parts[-1] == "commands":  # every area's CLI wiring sits with the CLI
        return len(LAYERS) - 1
    top = parts[1] if len(parts) > 1 else parts[0]
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module} is in no layer of docs/ARCHITECTURE.md")


def imports():
    for path in PKG.rglob("*.py"):
        mod = "mgw." + ".".join(path.relative_to(PKG).with_suffix("").parts).replace(".__init__", "")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.startswith("mgw.") or name == "mgw":
                    yield mod, name


def test_imports_go_down_and_nothing_imports_the_cli():
    found = sorted(set(imports()))
    assert len(found) > 100  # the walk really saw the package
    bad = [f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
           for m, t in found if t != "mgw" and layer_of(t) > layer_of(m)]
    bad += [f"{m} imports the CLI" for m, t in found if t.startswith("mgw.cli") and m != "mgw.__main__"]
    assert not bad, "\n".join(bad)


def test_layer_of_rejects_unknown_modules():
    with pytest.raises(AssertionError):
        layer_of("mgw.somewhere_new")
