"""The query engine over the query stores: one DuckDB database file per published version and variant.

Pure functions, no Django models: callers (the data API, the SQL panel, the live feed) hand in `Source`s with
local paths (catalog.querystore.selectors.sources_for_version, catalog.live.selectors.live_source).

Two entry points:

- `run_sql(sources, sql, …)`: a user's SQL. Only ONE statement of type SELECT is accepted (DuckDB's own parser,
  `extract_statements`); the stores are ATTACHed READ_ONLY into a fresh in-memory database, the sources become
  TEMP views (tail rows of live tables are loaded into TEMP tables first), and then the connection is locked down:
  `enable_external_access=false` (no file, network, extension, ATTACH or COPY), `lock_configuration=true` (no SET,
  no PRAGMA that changes settings), a memory limit, a thread count and a spill directory. A timer interrupts a
  query that runs longer than `timeout`; the result is capped at `max_rows` rows (`truncated`).
- `page(sources, table, spec)`: a page of one table for the table API. The SQL is built here from quoted
  identifiers and bound parameters only (a user's value never becomes SQL text); keyset paging on the sort
  columns plus the hidden `_row` column (1-based source order, unique).

Every stored table carries the hidden `_row BIGINT`; GeoJSON tables also `_minx,_miny,_maxx,_maxy DOUBLE`
(the bounding box of each feature's geometry, for `bbox` filters).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.storage import open_stream
from core.text import lazy_percent

HIDDEN_COLUMNS = ("_row", "_minx", "_miny", "_maxx", "_maxy")
BBOX_COLUMNS = ("_minx", "_miny", "_maxx", "_maxy")
OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "isnull")
DEFAULT_PAGE_THREADS = 2
DEFAULT_PAGE_MEMORY = "512MB"

# A DuckDB type name as the builder writes it (BIGINT, DOUBLE, DECIMAL(18,3), TIMESTAMP, VARCHAR, …): it is put
# into SQL text (CAST(? AS <type>)), so only this shape is accepted.
_TYPE_RE = re.compile(r"^[A-Z][A-Z0-9_ ]*(\(\d+(,\s*\d+)?\))?$")


# ---------------------------------------------------------------------------------------------------- errors
class QueryError(DomainError):
    """Bad SQL or a bad parameter: answered 400, in Korean and English, naming the parameter."""

    def __init__(self, message, *, code: str = "query_error", parameter: str | None = None):
        super().__init__(message, code=code)
        self.parameter = parameter


class QueryRefused(QueryError):
    """Not a single SELECT, or a forbidden function, file, network, extension or setting: answered 400."""

    def __init__(self, message, *, code: str = "query_refused", parameter: str | None = None):
        super().__init__(message, code=code, parameter=parameter)


class QueryTimeout(QueryError):
    """The query ran longer than the time limit and was stopped: answered 400 with code query_timeout."""

    def __init__(self, message, *, code: str = "query_timeout", parameter: str | None = None):
        super().__init__(message, code=code, parameter=parameter)


# ---------------------------------------------------------------------------------------------------- shapes
@dataclass(frozen=True)
class Column:
    name: str
    type: str
    masked: bool = False


@dataclass(frozen=True)
class Source:
    name: str  # table name visible in SQL and URLs
    store_path: str | None  # local path of the DuckDB file (None: only tail rows)
    store_table: str  # table inside that file
    columns: tuple[Column, ...]  # visible columns (without _row / _minx…)
    geometry: dict | None = None
    order_key: str = ""
    tail_csv: str | None = None  # local UTF-8 CSV (header) of extra rows: the same columns + _row


@dataclass
class Result:
    columns: list[dict]  # [{"name", "type"}]
    rows: list[tuple]
    row_count: int
    truncated: bool
    elapsed_ms: float


@dataclass
class Filter:
    column: str
    op: str  # eq ne lt lte gt gte in contains isnull
    value: Any = None


@dataclass
class PageSpec:
    select: list[str] | None = None
    filters: list[Filter] = field(default_factory=list)
    bbox: tuple[float, float, float, float] | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (column, descending)
    limit: int = 100
    cursor: str | None = None
    since: int | None = None


@dataclass
class Page:
    columns: list[dict]
    rows: list[tuple]
    next_cursor: str | None
    geometry_index: int | None
    last_row: int | None = None  # the `_row` of the last row of the page (a `since=` cursor for live tables)


# ---------------------------------------------------------------------------------------------------- helpers
def quote(name: str) -> str:
    """A quoted SQL identifier (any name, Hangul too, is safe inside double quotes)."""
    return '"' + str(name).replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A SQL string literal of a path we chose (never a user's value)."""
    return "'" + str(text).replace("'", "''") + "'"


def _checked_type(type_name: str) -> str:
    t = (type_name or "VARCHAR").upper().strip()
    if not _TYPE_RE.match(t):
        raise ValueError(f"unexpected column type {type_name!r}")
    return t


def _source_relation(source: Source, alias: str | None, tail_table: str | None, *, hidden: bool) -> str:
    """The SQL of a source's rows: the store's table, UNION ALL its tail rows (a TEMP table)."""
    names = [c.name for c in source.columns]
    if hidden:
        names = names + ["_row"]
        if source.geometry and source.geometry.get("kind") == "geojson":
            names = names + list(BBOX_COLUMNS)
    cols = ", ".join(quote(n) for n in names)
    parts = []
    if source.store_path and alias:
        parts.append(f"SELECT {cols} FROM {quote(alias)}.main.{quote(source.store_table)}")
    if tail_table:
        parts.append(f"SELECT {cols} FROM temp.main.{quote(tail_table)}")
    if not parts:
        # Neither a store nor a tail: an empty relation of the right columns.
        typed = ", ".join(f"CAST(NULL AS {_checked_type(c.type)}) AS {quote(c.name)}" for c in source.columns)
        extra = ", CAST(NULL AS BIGINT) AS _row" if hidden else ""
        return f"SELECT {typed}{extra} WHERE false"
    return " UNION ALL ".join(parts)


def _load_tail(con, source: Source, tail_table: str) -> None:
    """The tail CSV into a TEMP table of the source's types (before the lockdown: it reads a file)."""
    columns = {c.name: _checked_type(c.type) for c in source.columns}
    columns["_row"] = "BIGINT"
    if source.geometry and source.geometry.get("kind") == "geojson":
        for name in BBOX_COLUMNS:
            columns[name] = "DOUBLE"
    spec = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in columns.items()) + "}"
    con.execute(
        f"CREATE TEMP TABLE {quote(tail_table)} AS SELECT * FROM read_csv({_literal(source.tail_csv)}, "
        f"header=true, columns={spec}, auto_detect=false, quote='\"', escape='\"', nullstr='')"
    )


def _attach_all(con, sources: Sequence[Source]) -> dict[str, str]:
    """ATTACH each distinct store file once, READ_ONLY; returns path → alias."""
    aliases: dict[str, str] = {}
    for source in sources:
        if source.store_path and source.store_path not in aliases:
            alias = f"store{len(aliases)}"
            con.execute(f"ATTACH {_literal(source.store_path)} AS {quote(alias)} (READ_ONLY)")
            aliases[source.store_path] = alias
    return aliases


def _lockdown(con) -> None:
    """No file, network, extension, ATTACH or COPY from now on, and no setting can change (SET, RESET, PRAGMA)."""
    con.execute("SET enable_external_access=false")
    con.execute("SET lock_configuration=true")


MAX_SPILL = "2GB"  # what one query may write to its spill directory (a huge sort or join), then it fails


class _Connection:
    """A DuckDB connection that removes its own spill directory when closed (instances sharing one directory
    could collide on DuckDB's temporary file names)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, spill: str):
        self._con = con
        self._spill = spill

    def __getattr__(self, name):
        return getattr(self._con, name)

    def close(self) -> None:
        try:
            self._con.close()
        finally:
            shutil.rmtree(self._spill, ignore_errors=True)


def _connect(*, memory_limit: str, threads: int, temp_directory: str | None = None) -> _Connection:
    """A new in-memory DuckDB with its limits given at creation (measured: creating the instance with its thread
    count costs less than starting the default threads and changing them after; bench/querystore.py), spilling
    into a directory of its own under `temp_directory`."""
    base = Path(temp_directory or Path(tempfile.gettempdir()) / "querystore-spill")
    base.mkdir(parents=True, exist_ok=True)
    spill = tempfile.mkdtemp(prefix="q-", dir=base)
    config = {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "allow_community_extensions": "false",
        "memory_limit": memory_limit,
        "threads": int(threads),
        "temp_directory": spill,
        "max_temp_directory_size": MAX_SPILL,
    }
    try:
        return _Connection(duckdb.connect(":memory:", config=config), spill)
    except BaseException:
        shutil.rmtree(spill, ignore_errors=True)
        raise


def _type_name(type_code) -> str:
    return str(type_code).upper()


class _Timer:
    """Interrupts the connection after `timeout` seconds; `fired` says whether it did."""

    def __init__(self, con, timeout: float):
        self.fired = False
        self._con = con
        self._timer = threading.Timer(timeout, self._fire)
        self._timer.daemon = True

    def _fire(self):
        self.fired = True
        self._con.interrupt()

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        return False


def _timeout_error(timeout: float) -> QueryTimeout:
    return QueryTimeout(
        lazy_percent(
            _("The query ran longer than %(seconds)s seconds and was stopped. Narrow it down (a filter, a LIMIT)."),
            {"seconds": f"{timeout:g}"},
        )
    )


_REFUSED_HINTS = (
    "external access",
    "lock_configuration",
    "configuration has been locked",
    "permission error",
    "read-only",
    "read only",
    "extension",
)


def _duckdb_error(exc: Exception):
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    low = text.lower()
    if isinstance(exc, duckdb.PermissionException) or any(hint in low for hint in _REFUSED_HINTS):
        return QueryRefused(
            lazy_percent(
                _("The query was refused: it uses a file, the network, an extension or a setting (%(detail)s)."),
                {"detail": first[:300]},
            )
        )
    return QueryError(lazy_percent(_("The query failed: %(detail)s"), {"detail": first[:500]}), parameter="sql")


# ---------------------------------------------------------------------------------------------------- run_sql
def _single_select(con, sql: str) -> str:
    if not sql or not sql.strip():
        raise QueryError(_("Write a SELECT query."), parameter="sql")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(
            lazy_percent(_("The query could not be read: %(detail)s"), {"detail": str(exc).splitlines()[0][:500]}),
            parameter="sql",
        ) from exc
    if len(statements) != 1:
        raise QueryRefused(
            lazy_percent(
                _("Send exactly one SELECT statement (this text has %(count)s statements)."),
                {"count": len(statements)},
            ),
            parameter="sql",
        )
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = str(statement.type).rsplit(".", 1)[-1]
        raise QueryRefused(
            lazy_percent(
                _("Only a SELECT query is allowed here, not %(kind)s: the data is read-only."), {"kind": kind}
            ),
            parameter="sql",
        )
    return statement.query


# query()/query_table() would read a table by a name in a string (past the check of the names below); the system
# tables and settings functions would show the server's paths (the store files, the spill directory).
_DENIED_FUNCTIONS = {"query", "query_table", "current_setting", "getenv", "which_secret"}
_DENIED_PREFIXES = ("duckdb_", "pragma_")


def _denied(name: str) -> bool:
    return name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES)


def _walk(node, found: dict) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "BASE_TABLE":
            found["tables"].append((node.get("catalog_name") or "", node.get("schema_name") or "", node["table_name"]))
        if "function_name" in node:
            found["functions"].add(str(node["function_name"]).lower())
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map") or []:
                found["ctes"].add(str(entry.get("key", "")).lower())
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)


def _check_references(con, sql: str, sources: Sequence[Source]) -> None:
    """Each table the query names is one of the sources, by its plain name (another dataset's table, a store's
    own catalog or a `query()` detour gets a clear refusal). Read from DuckDB's own parse tree."""
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    except (duckdb.Error, TypeError, ValueError):
        return  # the execution reports the error
    if tree.get("error"):
        return
    found: dict = {"tables": [], "functions": set(), "ctes": set()}
    _walk(tree.get("statements"), found)
    denied = {name for name in found["functions"] if _denied(name)}
    if denied:
        raise QueryRefused(
            lazy_percent(
                _("The function %(function)s is not allowed here: name the dataset's tables directly."),
                {"function": sorted(denied)[0]},
            ),
            parameter="sql",
        )
    allowed = {s.name.lower() for s in sources}
    for catalog, schema, table in found["tables"]:
        plain = table.lower()
        qualified = catalog.lower() not in ("", "temp") or schema.lower() not in ("", "main")
        if qualified or (plain not in allowed and plain not in found["ctes"]):
            name = ".".join(part for part in (catalog, schema, table) if part)
            raise QueryRefused(
                lazy_percent(
                    _("The table %(table)s is not one of this dataset's tables you may query (%(tables)s)."),
                    {"table": name, "tables": ", ".join(sorted(s.name for s in sources)) or "-"},
                ),
                parameter="sql",
            )


def sandbox(
    sources: Sequence[Source],
    *,
    memory_limit: str,
    threads: int = 2,
    temp_directory: str | None = None,
) -> _Connection:
    """A fresh, locked-down connection where each source is a TEMP view of its visible columns."""
    con = _connect(memory_limit=memory_limit, threads=threads, temp_directory=temp_directory)
    try:
        aliases = _attach_all(con, sources)
        for i, source in enumerate(sources):
            tail = None
            if source.tail_csv:
                tail = f"_tail_{i}"
                _load_tail(con, source, tail)
            relation = _source_relation(source, aliases.get(source.store_path or ""), tail, hidden=False)
            con.execute(f"CREATE TEMP VIEW {quote(source.name)} AS {relation}")
        _lockdown(con)
    except Exception:
        con.close()
        raise
    return con


def run_sql(
    sources: Sequence[Source],
    sql: str,
    *,
    max_rows: int,
    timeout: float,
    memory_limit: str,
    threads: int = 2,
    temp_directory: str | None = None,
    isolated: bool = True,
) -> Result:
    """One user SELECT over the sources, sandboxed (see the module's text); at most `max_rows` rows.

    `isolated` (the default, for any SQL a user wrote): the query runs in a forked child process with a cap on its
    address space, killed when it outlives `timeout` (+ a grace second). DuckDB's interrupt and memory limit do not
    reach inside one scalar function: `repeat('x', 2000000000)`, `list_resize([1], 200000000)`, a chain of
    `replace()` calls or a scalar `range()` ran for minutes and took gigabytes of untracked memory (measured: 137 s
    and 14 GB RSS with a 3 s timeout and a 256 MB limit) in the web process itself."""
    if isolated:
        return _run_isolated(
            sources,
            sql,
            max_rows=max_rows,
            timeout=timeout,
            memory_limit=memory_limit,
            threads=threads,
            temp_directory=temp_directory,
        )
    return _run_sql_here(
        sources,
        sql,
        max_rows=max_rows,
        timeout=timeout,
        memory_limit=memory_limit,
        threads=threads,
        temp_directory=temp_directory,
    )


GRACE_SECONDS = 1.0  # after `timeout` the child is killed if DuckDB's interrupt has not stopped it
_UNITS = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "B": 1}


def _bytes(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(text))
    if not m:
        return 512 * 10**6
    return int(float(m.group(1)) * _UNITS.get(m.group(2).upper() or "B", 1e6))


def _too_much_memory() -> QueryError:
    return QueryError(
        _("The query needed more memory than allowed and was stopped. Narrow it down (a filter, a LIMIT)."),
        code="query_memory",
        parameter="sql",
    )


def _child(write_fd: int, address_space: int, call) -> None:
    """In the forked child: cap the address space, run, send the pickled outcome, and leave at once."""
    import pickle  # noqa: PLC0415 (only the forked child pickles)
    import resource  # noqa: PLC0415 (only the forked child sets limits)

    code = 0
    try:
        try:
            with open("/proc/self/status") as status:
                vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
            resource.setrlimit(resource.RLIMIT_AS, (vm + address_space, vm + address_space))
        except (OSError, ValueError, StopIteration):
            pass
        try:
            outcome = ("ok", call())
        except QueryError as exc:
            outcome = ("error", type(exc), exc.message, exc.code, exc.parameter)
        except MemoryError:
            outcome = ("memory",)
        except BaseException as exc:  # noqa: BLE001 — reported to the parent, which raises it
            outcome = ("crash", f"{type(exc).__name__}: {exc}"[:500])
        data = pickle.dumps(outcome)
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)
    except BaseException:  # noqa: BLE001 — the parent sees a child that sent nothing
        code = 1
    finally:
        os._exit(code)


def _run_isolated(sources, sql, *, max_rows, timeout, memory_limit, threads, temp_directory) -> Result:
    address_space = max(2 * _bytes(memory_limit), 1024 * 10**6)
    # The child's spill directory lives in one the parent made and removes: a killed child cannot clean up.
    base = Path(temp_directory or Path(tempfile.gettempdir()) / "querystore-spill")
    base.mkdir(parents=True, exist_ok=True)
    spill = tempfile.mkdtemp(prefix="sql-", dir=base)

    def call():
        return _run_sql_here(
            sources,
            sql,
            max_rows=max_rows,
            timeout=timeout,
            memory_limit=memory_limit,
            threads=threads,
            temp_directory=spill,
        )

    try:
        return _fork_and_wait(call, address_space, timeout)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _fork_and_wait(call, address_space: int, timeout: float) -> Result:
    import pickle  # noqa: PLC0415 (the parent reads the child's outcome)
    import select  # noqa: PLC0415
    import signal  # noqa: PLC0415

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        _child(write_fd, address_space, call)
    os.close(write_fd)
    deadline = time.monotonic() + float(timeout) + GRACE_SECONDS
    chunks: list[bytes] = []
    killed = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                killed = True
                break
            ready, _w, _x = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
    if killed:
        raise _timeout_error(timeout)
    try:
        outcome = pickle.loads(b"".join(chunks))
    except Exception as exc:  # noqa: BLE001 — no outcome: the child died (out of memory, killed)
        raise _too_much_memory() from exc
    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "error":
        _tag, cls, message, code, parameter = outcome
        raise cls(message, code=code, parameter=parameter)
    if outcome[0] == "memory":
        raise _too_much_memory()
    raise RuntimeError(f"query child failed: {outcome[1]}")


def _run_sql_here(
    sources: Sequence[Source],
    sql: str,
    *,
    max_rows: int,
    timeout: float,
    memory_limit: str,
    threads: int = 2,
    temp_directory: str | None = None,
) -> Result:
    """run_sql in this process (the forked child's work, or a query the caller wrote itself)."""
    started = time.perf_counter()
    con = sandbox(sources, memory_limit=memory_limit, threads=threads, temp_directory=temp_directory)
    try:
        query = _single_select(con, sql)
        _check_references(con, query, sources)
        with _Timer(con, timeout) as timer:
            try:
                relation = con.sql(query)
                if relation is None:  # not a query that returns rows
                    raise QueryRefused(_("Only a SELECT query is allowed here: the data is read-only."))
                columns = [{"name": n, "type": _type_name(t)} for n, t in zip(relation.columns, relation.types)]
                rows = relation.limit(max_rows + 1).fetchall()
            except duckdb.InterruptException as exc:
                raise _timeout_error(timeout) from exc
            except duckdb.Error as exc:
                if timer.fired:
                    raise _timeout_error(timeout) from exc
                raise _duckdb_error(exc) from exc
        if timer.fired and not rows:
            raise _timeout_error(timeout)
    finally:
        con.close()
    truncated = len(rows) > max_rows
    rows = rows[:max_rows]
    return Result(
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
    )


# ---------------------------------------------------------------------------------------------------- page
class _Shared:
    """Per-process read-only databases for page(): one in-memory DuckDB per store file with the file ATTACHed
    READ_ONLY and external access off; each call takes its own cursor (a connection of that database).
    Safe because page() builds every statement itself from quoted identifiers and bound parameters."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._dbs: dict[tuple[str, float], duckdb.DuckDBPyConnection] = {}

    def cursor(self, path: str, *, memory_limit: str, threads: int):
        key = (path, os.stat(path).st_mtime)
        with self._lock:
            if self._pid != os.getpid():  # forked: a parent's databases are not ours to use
                self._dbs = {}
                self._pid = os.getpid()
            con = self._dbs.get(key)
            if con is None:
                for old in [k for k in self._dbs if k[0] == path]:
                    self._dbs.pop(old).close()
                if len(self._dbs) >= 64:
                    oldest = next(iter(self._dbs))
                    self._dbs.pop(oldest).close()
                con = _connect(memory_limit=memory_limit, threads=threads)
                con.execute(f"ATTACH {_literal(path)} AS store0 (READ_ONLY)")
                _lockdown(con)
                self._dbs[key] = con
            return con.cursor()

    def clear(self):
        with self._lock:
            for con in self._dbs.values():
                con.close()
            self._dbs = {}


_shared = _Shared()


def _find(sources: Sequence[Source], table: str) -> Source:
    for source in sources:
        if source.name == table:
            return source
    raise QueryError(
        lazy_percent(_("There is no table %(table)s in this version."), {"table": table}), parameter="table"
    )


def _column_types(source: Source) -> dict[str, str]:
    types = {c.name: _checked_type(c.type) for c in source.columns}
    types["_row"] = "BIGINT"
    if source.geometry and source.geometry.get("kind") == "geojson":
        for name in BBOX_COLUMNS:
            types[name] = "DOUBLE"
    return types


def _bad_column(column: str, parameter: str) -> QueryError:
    return QueryError(
        lazy_percent(
            _("Unknown column %(column)s in the parameter %(parameter)s."), {"column": column, "parameter": parameter}
        ),
        parameter=parameter,
    )


def _filter_sql(f: Filter, types: dict[str, str]) -> tuple[str, list]:
    if f.column not in types or f.column in BBOX_COLUMNS:
        raise _bad_column(f.column, f"{f.column}__{f.op}")
    col = quote(f.column)
    ctype = types[f.column]
    cast = f"CAST(? AS {ctype})"
    if f.op in ("eq", "ne", "lt", "lte", "gt", "gte"):
        sign = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[f.op]
        if f.value is None:
            return (f"{col} IS NULL" if f.op == "eq" else f"{col} IS NOT NULL" if f.op == "ne" else "false"), []
        return f"{col} {sign} {cast}", [_bindable(f.value)]
    if f.op == "in":
        values = list(f.value or [])
        if not values:
            return "false", []
        return f"{col} IN ({', '.join([cast] * len(values))})", [_bindable(v) for v in values]
    if f.op == "contains":
        return f"strpos(lower(CAST({col} AS VARCHAR)), lower(CAST(? AS VARCHAR))) > 0", [str(f.value)]
    if f.op == "isnull":
        return (f"{col} IS NULL" if f.value else f"{col} IS NOT NULL"), []
    raise QueryError(
        lazy_percent(_("Unknown filter %(op)s in the parameter %(parameter)s."), {"op": f.op, "parameter": f.column}),
        parameter=f"{f.column}__{f.op}",
    )


def _bindable(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


# Cursor: base64url(JSON {"s": [[col, desc], …], "v": [value, …], "r": _row}); values tagged when JSON has no type.
def _enc(value):
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, dt.time):
        return {"t": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"n": str(value)}
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return {"f": repr(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (dict, list, tuple)):
        return {"j": json.dumps(value, default=str)}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _dec(value):
    if isinstance(value, dict):
        ((tag, text),) = value.items()
        if tag == "dt":
            return dt.datetime.fromisoformat(text)
        if tag == "d":
            return dt.date.fromisoformat(text)
        if tag == "t":
            return dt.time.fromisoformat(text)
        if tag == "n":
            return decimal.Decimal(text)
        if tag == "f":
            return float(text)
        if tag == "b":
            return base64.b64decode(text)
        if tag == "j":
            return text
        raise ValueError(tag)
    return value


def encode_cursor(sort: list[tuple[str, bool]], values: Sequence, row: int) -> str:
    payload = {"s": [[c, bool(d)] for c, d in sort], "v": [_enc(v) for v in values], "r": int(row)}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> QueryError:
    return QueryError(
        _(
            "The cursor is not valid for this query (it was made for another sort, or it is damaged). Start again without cursor."
        ),
        parameter="cursor",
    )


_INT_NAMES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def _fits(value, type_name: str) -> bool:
    """Whether a cursor's value is one the column of `type_name` could hold (a cursor made by encode_cursor always
    is; an edited one may not be, and must not reach DuckDB as a conversion error)."""
    if value is None:
        return True
    t = type_name.upper()
    if t in _INT_NAMES:
        return isinstance(value, int) and not isinstance(value, bool)
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t.startswith(("DECIMAL", "NUMERIC")):
        return isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool)
    if t == "BOOLEAN":
        return isinstance(value, bool)
    if t == "DATE":
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if t.startswith("TIMESTAMP"):
        return isinstance(value, dt.datetime)
    if t == "TIME":
        return isinstance(value, dt.time)
    if t == "VARCHAR":
        return isinstance(value, str)
    return True


def decode_cursor(cursor: str, sort: list[tuple[str, bool]], types: dict[str, str] | None = None) -> tuple[list, int]:
    """The sort values and `_row` of a cursor made for `sort`; a damaged or edited one (bad base64 or JSON, a value
    the column cannot hold when `types` is given, a row number out of range) is a QueryError naming `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        made_for = [(str(c), bool(d)) for c, d in payload["s"]]
        values = [_dec(v) for v in payload["v"]]
        row = payload["r"]
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError, json.JSONDecodeError) as exc:
        raise _bad_cursor() from exc
    if made_for != [(c, bool(d)) for c, d in sort] or len(values) != len(sort):
        raise _bad_cursor()
    if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < 2**63:
        raise _bad_cursor()
    if types is not None and not all(_fits(v, types.get(c, "")) for (c, _d), v in zip(sort, values)):
        raise _bad_cursor()
    return values, row


def _keyset_sql(sort: list[tuple[str, bool]], values: list, row: int, types: dict[str, str]) -> tuple[str, list]:
    """Rows strictly after (values, row) in ORDER BY sort (NULLS LAST), _row ASC."""
    ors: list[str] = []
    params: list = []
    eq_parts: list[str] = []
    eq_params: list = []
    for (column, desc), value in zip(sort, values):
        col = quote(column)
        cast = f"CAST(? AS {types[column]})"
        if value is None:
            # Nothing sorts after NULL (NULLS LAST) except other NULLs, compared on the next key.
            eq_parts.append(f"{col} IS NULL")
            continue
        after = f"({col} {'<' if desc else '>'} {cast} OR {col} IS NULL)"
        ors.append("(" + " AND ".join([*eq_parts, after]) + ")")
        params.extend([*eq_params, _bindable(value)])
        eq_parts.append(f"{col} = {cast}")
        eq_params.append(_bindable(value))
    ors.append("(" + " AND ".join([*eq_parts, "_row > ?"]) + ")")
    params.extend([*eq_params, int(row)])
    return "(" + " OR ".join(ors) + ")", params


def _page_query(source: Source, relation: str, spec: PageSpec) -> tuple[str, list, list[str], list[tuple[str, bool]]]:
    types = _column_types(source)
    visible = [c.name for c in source.columns]
    select = list(spec.select) if spec.select else visible
    for name in select:
        if name not in visible:
            raise _bad_column(name, "select")
    sort = list(spec.sort) or ([(source.order_key, False)] if source.order_key in visible else [])
    for name, _desc in sort:
        if name not in visible:
            raise _bad_column(name, "order")
    where: list[str] = []
    params: list = []
    for f in spec.filters:
        sql, p = _filter_sql(f, types)
        where.append(sql)
        params.extend(p)
    if spec.bbox is not None:
        min_x, min_y, max_x, max_y = (float(v) for v in spec.bbox)
        geometry = source.geometry or {}
        if geometry.get("kind") == "geojson":
            where.append("_maxx >= ? AND _minx <= ? AND _maxy >= ? AND _miny <= ?")
            params.extend([min_x, max_x, min_y, max_y])
        elif geometry.get("kind") == "latlon":
            lon, lat = quote(geometry["lon"]), quote(geometry["lat"])
            where.append(f"{lon} BETWEEN ? AND ? AND {lat} BETWEEN ? AND ?")
            params.extend([min_x, max_x, min_y, max_y])
        else:
            raise QueryError(_("This table has no coordinates: bbox cannot be used."), parameter="bbox")
    if spec.since is not None:
        where.append("_row > ?")
        params.append(int(spec.since))
    if spec.cursor:
        values, row = decode_cursor(spec.cursor, sort, types)
        sql, p = _keyset_sql(sort, values, row, types)
        where.append(sql)
        params.extend(p)
    order = [f"{quote(c)} {'DESC' if d else 'ASC'} NULLS LAST" for c, d in sort] + ["_row ASC"]
    sort_cols = [c for c, _d in sort]
    out = select + [c for c in sort_cols if c not in select] + ["_row"]
    sql = (
        f"SELECT {', '.join(quote(c) for c in out)} FROM ({relation}) AS t"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {', '.join(order)}"
    )
    return sql, params, select, sort


def _page_connection(sources: Sequence[Source], source: Source, *, memory_limit: str, threads: int):
    """(cursor or connection, relation SQL) for reading `source`'s rows with hidden columns."""
    if source.store_path and not source.tail_csv:
        cur = _shared.cursor(source.store_path, memory_limit=memory_limit, threads=threads)
        return cur, _source_relation(source, "store0", None, hidden=True)
    con = _connect(memory_limit=memory_limit, threads=threads)
    aliases = _attach_all(con, [source])
    tail = None
    if source.tail_csv:
        tail = "_tail_0"
        _load_tail(con, source, tail)
    _lockdown(con)
    return con, _source_relation(source, aliases.get(source.store_path or ""), tail, hidden=True)


def page(
    sources: Sequence[Source],
    table: str,
    spec: PageSpec,
    *,
    memory_limit: str = DEFAULT_PAGE_MEMORY,
    threads: int = DEFAULT_PAGE_THREADS,
    timeout: float = 30.0,
) -> Page:
    """One page of `table`: the spec's filters, bbox, since and sort; `next_cursor` when more rows follow."""
    source = _find(sources, table)
    limit = int(spec.limit)
    con, relation = _page_connection(sources, source, memory_limit=memory_limit, threads=threads)
    try:
        sql, params, select, sort = _page_query(source, relation, spec)
        with _Timer(con, timeout) as timer:
            try:
                cur = con.execute(sql + " LIMIT ?", [*params, limit + 1])
                fetched = cur.fetchall()
            except duckdb.InterruptException as exc:
                raise _timeout_error(timeout) from exc
            except duckdb.Error as exc:
                if timer.fired:
                    raise _timeout_error(timeout) from exc
                raise _duckdb_error(exc) from exc
    finally:
        con.close()
    more = len(fetched) > limit
    fetched = fetched[:limit]
    n = len(select)
    out_names = select + [c for c, _d in sort if c not in select]
    types = _column_types(source)
    rows = [tuple(r[:n]) for r in fetched]
    next_cursor = None
    last_row = fetched[-1][-1] if fetched else None
    if more and fetched:
        last = fetched[-1]
        values = []
        for column, _desc in sort:
            values.append(last[out_names.index(column)])
        next_cursor = encode_cursor(sort, values, last[-1])
    geometry_index = None
    if source.geometry and source.geometry.get("kind") == "geojson" and "geometry" in select:
        geometry_index = select.index("geometry")
    return Page(
        columns=[{"name": c, "type": types[c]} for c in select],
        rows=rows,
        next_cursor=next_cursor,
        geometry_index=geometry_index,
        last_row=last_row,
    )


def iter_page_rows(
    sources: Sequence[Source], table: str, spec: PageSpec, *, max_rows: int, batch: int = 1000
) -> Iterator[tuple[list[dict], list[tuple]]]:
    """Rows of `table` by the spec, batch by batch (keyset paging inside), at most `max_rows` in all.
    Yields (columns, rows) per batch, for a CSV export of many rows without holding them all."""
    remaining = max_rows
    cursor = spec.cursor
    while remaining > 0:
        part = PageSpec(
            select=spec.select,
            filters=spec.filters,
            bbox=spec.bbox,
            sort=spec.sort,
            limit=min(batch, remaining),
            cursor=cursor,
            since=spec.since,
        )
        result = page(sources, table, part)
        if result.rows:
            yield result.columns, result.rows
        remaining -= len(result.rows)
        cursor = result.next_cursor
        if not cursor:
            return


# ---------------------------------------------------------------------------------------------------- node cache
def ensure_local(storage, name: str, sha256: str, cache_dir: str) -> str:
    """A local path of the stored file `name` of `storage`: its own path when the storage is on this file system,
    else a copy in `cache_dir` streamed down once, verified by SHA-256 and renamed into place atomically."""
    try:
        path = storage.path(name)
    except NotImplementedError:
        path = None
    if path and os.path.isfile(path):
        return path
    base = Path(cache_dir)
    base.mkdir(parents=True, exist_ok=True)
    target = base / f"{sha256}.duckdb"
    if target.exists():
        return str(target)
    fd, tmp = tempfile.mkstemp(dir=base, prefix=".download-", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, open_stream(storage, name) as src:
            for chunk in iter(lambda: src.read(1024 * 1024), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise OSError(f"querystore cache: {name} does not match its SHA-256")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return str(target)
