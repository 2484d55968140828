"""Where an Optuna study lives: a SQLite file by default, any Optuna RDB URL (PostgreSQL, MySQL) for
many workers on many machines. The URL is checked and the server reached *before* any trial runs,
so a typo or a down server fails in a second with a clear message instead of after an hour of builds."""
from __future__ import annotations

import time
from pathlib import Path

from mgw.config import ROOT
from mgw.errors import MgwError

OPTUNA_DIR = ROOT / "reports" / "optuna"
# SQLAlchemy names the driver in the URL; psycopg 3 is what mgw installs (psycopg2 is not).
_DRIVER_DEFAULTS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
_KNOWN_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")


class StorageError(MgwError):
    """A storage URL that cannot be parsed, names an unknown database, or cannot be reached."""


def default_url(study: str, root: str | Path | None = None) -> str:
    """sqlite:///<root>/<study>.db (root defaults to reports/optuna/)."""
    folder = Path(root) if root else OPTUNA_DIR
    return f"sqlite:///{(folder / f'{study}.db').resolve()}"


def normalize_url(url: str) -> str:
    """Parse and validate an RDB URL; `postgresql://` gets the psycopg 3 driver. Raises StorageError."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StorageError(f"storage URL {url!r} is not a database URL (want e.g. sqlite:///path.db or "
                           f"postgresql://user@host:5432/db): {e}") from None
    dialect = parsed.get_backend_name()
    if dialect not in _KNOWN_DIALECTS:
        raise StorageError(f"storage URL {_safe(url)!r}: unknown database {dialect!r} "
                           f"(known: {', '.join(_KNOWN_DIALECTS)})")
    if parsed.drivername in _DRIVER_DEFAULTS:
        parsed = parsed.set(drivername=_DRIVER_DEFAULTS[parsed.drivername])
    if dialect == "sqlite":
        db = parsed.database
        if not db or db == ":memory:":
            raise StorageError("storage URL: an in-memory SQLite database cannot be shared; give a file path")
        Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def _safe(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for messages
        return "<unparseable URL>"


def open_storage(url: str | None, study: str, *, root: str | Path | None = None, connect_timeout_s: int = 5,
                 retries: int = 3):
    """Validate the URL, connect once, and return an `optuna.storages.RDBStorage`.

    Table creation is retried: two workers starting at the same moment on an empty PostgreSQL database race
    on CREATE TABLE, and the loser sees a unique-violation that is harmless once the winner is done."""
    import optuna
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    url = normalize_url(url or default_url(study, root))
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    engine_kwargs: dict = {}
    if dialect == "postgresql":
        engine_kwargs = {"connect_args": {"connect_timeout": connect_timeout_s}, "pool_pre_ping": True}
    elif dialect == "sqlite":
        engine_kwargs = {"connect_args": {"timeout": 60}}  # concurrent local workers wait for the lock
    # Connectivity check first: a clear message naming the server, not an Optuna stack trace.
    try:
        engine = create_engine(url, **engine_kwargs)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except (SQLAlchemyError, OSError, ImportError) as e:
        raise StorageError(f"cannot reach Optuna storage {_safe(url)}: {type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}") from None
    last: Exception | None = None
    for attempt in range(retries):
        try:
            # On a shared server a worker may die mid-trial: heartbeats let the others mark its trial FAILED.
            beat = {} if dialect == "sqlite" else {"heartbeat_interval": 60, "grace_period": 180}
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **beat)
        except SQLAlchemyError as e:  # CREATE TABLE race between workers
            last = e
            time.sleep(0.5 * (attempt + 1))
    raise StorageError(f"cannot initialise Optuna tables in {_safe(url)}: {last}")


def describe(url: str | None, study: str, root: str | Path | None = None) -> str:
    """The URL as recorded in results (password masked)."""
    return _safe(normalize_url(url or default_url(study, root)))
