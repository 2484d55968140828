"""The right to be forgotten across everything that holds user data (seed §6.2): one registry of holders,
deletion from each, an exact-id re-check, and a deletion receipt.

A *holder* is anything that keeps data about a user (a store, a cache, a model registry, report files). It
implements the small `UserDataHolder` protocol: `name`, `find(user) -> locations` and `forget(user) -> count`.
Holders are created per run from a `ForgetContext` (params, the opened stores, the repo's folders) by the
built-in factories (`holders.BUILTIN_FACTORIES`) and those in `HOLDERS`; a new store joins with one line:

    register_holder(lambda ctx: MySessionStore.from_params(ctx.params))

`forget_everywhere` asks every holder to forget the user, asks every holder again (`find` must come back
empty), scans the data/, models/ and reports/ folders for the user id and its pseudonym as exact tokens
(`exact_scan`), and writes a receipt to `<store root>/privacy/receipts/`. The receipt names the user only by a
keyed pseudonym (HMAC with the store's secret pepper), so it is no trace itself, yet the key holder can show
which receipt belongs to whom.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, runtime_checkable

from mgw.config import ROOT, Params
from mgw.errors import MgwError
from mgw.reporting import write_json_atomic
from mgw.store.exact_scan import redact, scan_tree

if TYPE_CHECKING:  # the stores (pandas, SQL) load only when a forget runs, not when the CLI registers a holder
    from mgw.store.stores import Stores

log = logging.getLogger(__name__)


@runtime_checkable
class UserDataHolder(Protocol):
    """Something that holds data about users."""

    name: str

    def find(self, user: str) -> list[str]:
        """Where the user still is (human-readable locations; empty when nothing is left)."""

    def forget(self, user: str) -> int:
        """Delete everything about the user here; the number of records removed."""


@dataclass
class ForgetContext:
    """What holder factories may use to build their holders."""

    params: Params
    stores: Stores
    repo_root: Path = ROOT  # whose data/, models/ and reports/ folders are cleaned and scanned

    @property
    def registry_dir(self) -> Path:
        p = Path(self.params.gnn.registry_dir)
        return p if p.is_absolute() else self.repo_root / p

    @property
    def reports_dir(self) -> Path:
        return self.repo_root / "reports"

    def scan_roots(self) -> list[Path]:
        roots = [self.repo_root / "data", self.repo_root / "models", self.reports_dir, self.stores.root,
                 self.registry_dir]
        roots = [r.resolve() for r in roots]
        return sorted({r for r in roots if not any(o != r and o in r.parents for o in roots)})


HolderFactory = Callable[[ForgetContext], "UserDataHolder | Iterable[UserDataHolder] | None"]
HOLDERS: list[HolderFactory] = []


def register_holder(factory: HolderFactory) -> HolderFactory:
    """Add a holder factory (usable as a decorator); it is called once per `forget_everywhere` run."""
    HOLDERS.append(factory)
    return factory


def holders_for(ctx: ForgetContext, factories: Iterable[HolderFactory] | None = None) -> list[UserDataHolder]:
    out: list[UserDataHolder] = []
    for factory in (HOLDERS if factories is None else factories):
        made = factory(ctx)
        if made is None:
            continue
        out.extend([made] if isinstance(made, UserDataHolder) else made)
    return out


def receipt_subject(stores: Stores, user: str) -> str:
    """Keyed pseudonym for receipts: not the id, not the stores' pseudonym (both are what the scan looks for)."""
    return "r_" + hmac.new(stores.users.pepper, b"forget-receipt:" + user.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass
class ForgetRun:
    """The outcome of one `forget_everywhere` call; `receipt` is what was written to disk."""

    receipt: dict[str, Any]
    path: Path
    clean: bool
    details: dict[str, Any] = field(default_factory=dict)


def forget_everywhere(ctx: ForgetContext, user: str, extra: Iterable[UserDataHolder] = ()) -> ForgetRun:
    """Forget `user` in every registered holder (plus `extra`), verify, write the receipt."""
    from mgw.store.holders import BUILTIN_FACTORIES

    holders = holders_for(ctx, BUILTIN_FACTORIES + HOLDERS) + list(extra)
    started = time.time()
    per: dict[str, dict[str, Any]] = {}
    for h in holders:
        entry: dict[str, Any] = {}
        try:
            entry["found_before"] = len(h.find(user))
            entry["removed"] = int(h.forget(user))
            entry["remaining"] = h.find(user)
        except (MgwError, OSError, ValueError) as e:  # one broken holder must not stop the others
            entry["error"] = f"{type(e).__name__}: {e}"
            log.error("forget: %s failed: %s", h.name, e)
        per[h.name] = entry
    needles = [user, ctx.stores.users.uid(user)]
    scan = scan_tree(ctx.scan_roots(), needles)
    clean = not scan.hits and all("error" not in e and not e["remaining"] for e in per.values())
    subject = receipt_subject(ctx.stores, user)
    receipt = {
        "receipt": "mgw privacy forget", "subject": subject, "started": _iso(started), "finished": _iso(time.time()),
        "clean": clean,
        "holders": {n: {"found_before": e.get("found_before"), "removed": e.get("removed"),
                        "remaining": len(e.get("remaining") or []), **({"error": e["error"]} if "error" in e else {})}
                    for n, e in per.items()},
        "exact_id_scan": {"roots": [str(r) for r in ctx.scan_roots()], "needles": "user id and its store pseudonym",
                          **scan.to_dict(), "hits": [redact(h, needles) for h in scan.hits]},
    }
    path = ctx.stores.root / "privacy" / "receipts" / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(started))}-" \
                                                      f"{subject[2:14]}.json"
    write_json_atomic(path, receipt)
    return ForgetRun(receipt, path, clean, {n: [redact(x, needles) for x in e.get("remaining", [])]
                                            for n, e in per.items()})


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def open_context(params: Params, repo_root: Path | None = None, **stores_kw: Any) -> ForgetContext:
    """A context with the stores opened from params (close with `ctx.stores.close()`)."""
    from mgw.store.stores import Stores

    return ForgetContext(params, Stores.open(params, **stores_kw), Path(repo_root or ROOT))


__all__ = ["UserDataHolder", "ForgetContext", "HOLDERS", "register_holder", "forget_everywhere", "open_context"]
