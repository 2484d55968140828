"""Which ANN index the store derives: a factory `(dim, metric) -> index` and a loader `path -> index`.

Any object with `build(vectors, ids)`, `search(queries, k) -> (ids, scores)`, `save(path)` works; the
default is `mgw.index.make_index` / `mgw.index.load_index`. A backend can also be named "module:function"
so a subprocess (the crash-test writer) can rebuild the same one.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


def _import(spec: str) -> Callable[..., Any]:
    mod, _, fn = spec.partition(":")
    return getattr(importlib.import_module(mod), fn)


@dataclass(frozen=True)
class Backend:
    """How to make and load the derived index. `name` is recorded in snapshot meta."""

    name: str
    factory: Callable[[int, str], Any]
    loader: Callable[[Any], Any]

    @classmethod
    def resolve(cls, spec: "Backend | str", **build_params: Any) -> "Backend":
        """`spec`: a Backend, "module:factory[|module:loader]", or an `mgw.index` backend name."""
        if isinstance(spec, Backend):
            return spec
        if ":" in spec:
            fac, _, lod = spec.partition("|")
            factory = _import(fac)
            loader = _import(lod) if lod else _import(fac.rsplit(":", 1)[0] + ":load_index")
            return cls(spec, factory, loader)
        from mgw.index import load_index, make_index  # lower layer; imported lazily

        return cls(spec, lambda dim, metric: make_index(spec, dim, metric=metric, **build_params), load_index)


EXACT_SPEC = "mgw.testing.store_contract:exact_factory|mgw.testing.store_contract:exact_loader"
