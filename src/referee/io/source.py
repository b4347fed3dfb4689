"""Opening one input file: compression, container kind, line-numbered JSON records.

A :class:`Source` reads lazily.  Detection only needs :meth:`Source.head` (a few KB,
decompressed); fast readers hand :meth:`Source.arrow_input` to pyarrow; record-based
readers call :meth:`Source.records`, which parses every line in Python and knows the
1-based line (JSON Lines) or record number (JSON array) of each record.
"""

from __future__ import annotations

import bz2
import gc
import glob
import gzip
import json
import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import pyarrow as pa

from referee.errors import InputError

#: leading bytes -> compression name
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bz2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
#: file-name suffix -> compression name (used when the magic bytes are inconclusive)
SUFFIXES: dict[str, str] = {".gz": "gzip", ".xz": "xz", ".lzma": "xz", ".bz2": "bz2", ".zst": "zstd"}
HEAD_BYTES = 1 << 16
_DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError, pa.ArrowException)

Record = tuple[int, dict[str, Any]]


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small objects.

    JSON parsing allocates no reference cycles, but each allocation burst makes the
    collector rescan every record made so far: several seconds on a million records.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def text_error(message: str, path: str, line: int | None = None) -> InputError:
    """An error whose ``line`` is a real text line even inside a JSON array."""
    err = InputError(message, path=path, line=line)
    err.text_line = True  # type: ignore[attr-defined]
    return err


@dataclass
class Parsed:
    """What a format reader hands back before validation."""

    frame: Any  # pandas.DataFrame, with a ``_line`` column when ``exact`` is True
    exact: bool = True  # False: fast path without line numbers (re-read slowly on error)
    dropped: dict[str, int] = field(default_factory=dict)
    mapped: dict[str, int] = field(default_factory=dict)


def sniff_compression(path: Path) -> str | None:
    """Compression of ``path`` from its magic bytes, else from its suffix, else None."""
    try:
        with open(path, "rb") as fh:
            lead = fh.read(8)
    except OSError as exc:
        raise InputError(f"cannot open file: {exc.strerror or exc}", path=str(path)) from None
    for magic, name in MAGIC:
        if lead.startswith(magic):
            return name
    if lead:
        return None  # content wins over a misleading suffix
    return SUFFIXES.get(path.suffix.lower())


def inner_suffix(path: Path) -> str:
    """The suffix that names the container, skipping a compression suffix (``a.jsonl.gz`` -> ``.jsonl``)."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


DATA_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".parquet"})


def expand_paths(
    paths: str | Path | Iterable[str | Path], *, what: str = "input", field: str | None = None,
    skip: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Files to read: paths as given, glob patterns matched, directories searched recursively
    (sorted) for data files — hidden files and those ``skip`` names left out."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise InputError(f"no {what} files given", field=field)
    files: list[Path] = []
    for item in items:
        text = str(item)
        matches = sorted(glob.glob(text, recursive=True)) if any(c in text for c in "*?[") else [text]
        if not matches:
            raise InputError("no files match this pattern", path=text, field=field)
        for m in map(Path, matches):
            if not m.is_dir():
                files.append(m)
                continue
            found = sorted(
                f for f in m.rglob("*")
                if f.is_file() and not f.name.startswith(".") and inner_suffix(f) in DATA_SUFFIXES
                and not (skip and skip(f))
            )
            if not found:
                raise InputError("no data files (.json, .jsonl, .csv, .tsv, .parquet) in this directory", path=str(m))
            files.extend(found)
    return files


class _ByteStream(Protocol):
    """What ``Source._open`` returns: a gzip/lzma/bz2 file, a pyarrow stream or a plain binary file."""

    def read(self, size: int = -1, /) -> bytes: ...

    def __enter__(self) -> _ByteStream: ...

    def __exit__(
        self, typ: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...


class Source:
    """One input file, opened lazily."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(path)
        if not self.path.is_file():
            what = "a directory with no readable files" if self.path.is_dir() else "no such file"
            raise InputError(what, path=self.name)
        self.compression = sniff_compression(self.path)
        self.suffix = inner_suffix(self.path)

    # -- bytes -------------------------------------------------------------------------
    def _open(self) -> _ByteStream:
        c = self.compression
        if c == "gzip":
            return gzip.open(self.path, "rb")
        if c == "xz":
            return lzma.open(self.path, "rb")
        if c == "bz2":
            return bz2.open(self.path, "rb")
        if c == "zstd":
            stream: _ByteStream = pa.input_stream(str(self.path), compression="zstd")  # pyarrow has no stubs
            return stream
        return open(self.path, "rb")

    def _decompress_error(self, exc: BaseException) -> InputError:
        return InputError(f"cannot read {self.compression} data (corrupt or truncated file): {exc}", path=self.name)

    @cached_property
    def head(self) -> bytes:
        """The first ``HEAD_BYTES`` bytes after decompression."""
        try:
            with self._open() as fh:
                return fh.read(HEAD_BYTES)
        except _DECOMPRESS_ERRORS as exc:
            raise self._decompress_error(exc) from None

    @cached_property
    def data(self) -> bytes:
        """The whole file, decompressed."""
        try:
            with self._open() as fh:
                return fh.read()
        except _DECOMPRESS_ERRORS as exc:
            raise self._decompress_error(exc) from None

    def arrow_input(self) -> Any:
        """Something pyarrow readers accept, streaming where pyarrow can decompress itself."""
        if self.compression is None:
            return pa.memory_map(str(self.path))
        if self.compression in ("gzip", "bz2", "zstd"):
            return pa.input_stream(str(self.path), compression=self.compression)
        return pa.BufferReader(self.data)

    # -- container -----------------------------------------------------------------------
    @cached_property
    def kind(self) -> str:
        """``parquet``, ``json_array``, ``jsonl`` or ``csv`` (from content, then suffix)."""
        head = self.head
        if head.startswith(b"PAR1"):
            return "parquet"
        if self.suffix == ".parquet":
            what = "the file is empty" if not head else f"it starts with {head[:20]!r}, not the Parquet magic bytes PAR1"
            raise InputError(f"not a Parquet file: {what}", path=self.name)
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not text:
            raise InputError("empty file: no comparisons found", path=self.name)
        if text[:1] == b"[":
            return "json_array"
        if text[:1] == b"{":
            return "jsonl"
        if self.suffix in (".json", ".jsonl", ".ndjson"):
            raise text_error(
                f"not JSON: the file starts with {text[:20]!r}; expected a JSON array or JSON Lines",
                self.name,
                1 + head[: len(head) - len(text)].count(b"\n"),
            )
        return "csv"

    @property
    def unit(self) -> str:
        """What a reported ``line`` counts: ``line``, ``record`` (JSON array) or ``row`` (Parquet)."""
        return {"json_array": "record", "parquet": "row"}.get(self.kind, "line")

    @cached_property
    def text(self) -> str:
        """The decompressed file as text (strict UTF-8, BOM removed)."""
        data = self.data
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise text_error(f"not UTF-8 text (byte offset {exc.start})", self.name, line) from None

    # -- JSON records ----------------------------------------------------------------------
    def first_record(self) -> dict[str, Any]:
        """The first JSON object, parsed cheaply from the head when possible."""
        if self.kind == "json_array":
            return self.records()[0][1]
        head = self.head
        start = len(head) - len(head.lstrip(b"\xef\xbb\xbf \t\r\n"))
        end = head.find(b"\n", start)
        if end < 0 and len(head) >= HEAD_BYTES:
            return self.records()[0][1]
        chunk = head[start:] if end < 0 else head[start:end]
        line = head[:start].count(b"\n") + 1
        try:
            obj = json.loads(chunk.decode("utf-8"))
        except (ValueError, RecursionError):
            return self.records()[0][1]  # reports the error with its line
        return self._as_object(obj, line)

    def _as_object(self, obj: Any, line: int) -> dict[str, Any]:
        if not isinstance(obj, dict):
            where = "record" if self.kind == "json_array" else "line"
            raise InputError(
                f"expected a JSON object per {where}, found {type(obj).__name__}"
                + (f" (record {line} of the JSON array)" if where == "record" else ""),
                path=self.name,
                line=line,
            )
        return obj

    def records(self) -> list[Record]:
        """All JSON objects with their line (JSON Lines) or record number (JSON array)."""
        cached = self.__dict__.get("_records")
        if cached is None:
            with no_gc():
                cached = self._parse_array() if self.kind == "json_array" else self._parse_lines()
            if not cached:
                raise InputError("empty file: no records found", path=self.name)
            self.__dict__["_records"] = cached
        return cached

    def _parse_lines(self) -> list[Record]:
        out: list[Record] = []
        for i, raw in enumerate(self.text.split("\n"), start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise text_error(
                    f"malformed JSON: {exc.msg} (column {exc.colno}){self._whole_object_hint(i)}", self.name, i
                ) from None
            except (ValueError, RecursionError) as exc:
                raise text_error(f"malformed JSON: {exc}", self.name, i) from None
            out.append((i, self._as_object(obj, i)))
        return out

    def _whole_object_hint(self, line: int) -> str:
        if line > 2:
            return ""
        try:
            json.loads(self.text)
        except (ValueError, RecursionError):
            return ""
        return "; the file holds one JSON value spread over several lines: expected JSON Lines or a JSON array"

    def _parse_array(self) -> list[Record]:
        try:
            obj = json.loads(self.text)
        except json.JSONDecodeError as exc:
            raise text_error(
                f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", self.name, exc.lineno
            ) from None
        except (ValueError, RecursionError) as exc:
            raise InputError(f"malformed JSON: {exc}", path=self.name) from None
        if not isinstance(obj, list):
            raise InputError("expected a JSON array of records", path=self.name)
        return [(i, self._as_object(rec, i)) for i, rec in enumerate(obj, start=1)]


def relocate(err: InputError, src: Source) -> InputError:
    """Say what a reported line counts when it is not a text line (JSON array, Parquet)."""
    if err.line is None or src.unit == "line" or getattr(err, "text_line", False) or "record " in err.message:
        return err
    what = "record {} of the JSON array" if src.unit == "record" else "row {} of the Parquet file"
    return InputError(f"{err.message} ({what.format(err.line)})", path=err.path, line=err.line, field=err.field)
