"""Loader for a user-supplied daily OHLCV CSV (Yahoo Finance layout or anything with Date and Close)."""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from datetime import date, datetime
from typing import TextIO

import numpy as np

NULL_TOKENS = frozenset({"", "null", "nan", "na", "n/a", "none", "-"})


class SkippedRowsWarning(UserWarning):
    """Some CSV rows had no usable Close (null, empty or non-positive) and were skipped."""


def _parse_date(text: str, line: int) -> date:
    t = text.strip()
    if not t:
        raise ValueError(f"row {line}: Date is empty")
    try:
        return date.fromisoformat(t[:10]) if len(t) >= 10 else date.fromisoformat(t)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(t).date()
    except ValueError:
        raise ValueError(f"row {line}: Date {text!r} is not an ISO date (YYYY-MM-DD)") from None


def load_ohlcv_csv(file: str | os.PathLike[str] | TextIO) -> tuple[np.ndarray, np.ndarray]:
    """Dates (datetime64[D]) and positive closes (float64) of a daily OHLCV CSV, sorted by date.

    Needs a header with `Date` and `Close` columns (case-insensitive, surrounding spaces ignored; Open,
    High, Low, Adj Close, Volume and any others are ignored). Rows whose Close is empty, a null token
    ('null', 'NaN', 'N/A', …), non-finite or ≤ 0 are skipped: their count and first line numbers are
    reported with a `SkippedRowsWarning`. Blank lines are ignored.

    Raises ValueError naming the column or the row (line number in the file, header = 1) when: there is
    no Date or Close column; a row is too short, has an unparseable date or a non-numeric Close; two
    usable rows share a date; fewer than two usable rows remain.
    """
    if isinstance(file, str | os.PathLike):
        with open(file, newline="", encoding="utf-8-sig") as fh:
            return _load(fh, name=os.fspath(file))
    return _load(file, name=getattr(file, "name", "<stream>"))


def _load(fh: TextIO | io.TextIOBase, name: str) -> tuple[np.ndarray, np.ndarray]:
    reader = csv.reader(fh)
    header = next(reader, None)
    if header is None:
        raise ValueError(f"{name}: empty file, expected a header with Date and Close columns")
    keys = [h.strip().lstrip("\ufeff").lower() for h in header]
    missing = [col for col in ("date", "close") if col not in keys]
    if missing:
        cols = " and ".join(f"'{c.capitalize()}'" for c in missing)
        raise ValueError(f"{name}: no {cols} column (header: {', '.join(header)})")
    i_date, i_close = keys.index("date"), keys.index("close")
    width = max(i_date, i_close) + 1
    days: list[date] = []
    closes: list[float] = []
    lines: list[int] = []
    skipped: list[int] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < width:
            raise ValueError(f"{name}: row {line} has {len(row)} fields, the Date/Close columns need {width}")
        raw = row[i_close].strip()
        if raw.lower() in NULL_TOKENS:
            skipped.append(line)
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name}: row {line}: Close {raw!r} is not a number") from None
        if not math.isfinite(value) or value <= 0.0:
            skipped.append(line)
            continue
        days.append(_parse_date(row[i_date], line))
        closes.append(value)
        lines.append(line)
    if skipped:
        head = ", ".join(map(str, skipped[:10])) + (", …" if len(skipped) > 10 else "")
        warnings.warn(
            f"{name}: skipped {len(skipped)} row(s) with a null or non-positive Close (rows {head})",
            SkippedRowsWarning,
            stacklevel=3,
        )
    if len(days) < 2:
        raise ValueError(f"{name}: {len(days)} usable row(s) with a positive Close, need at least 2")
    d = np.array(days, dtype="datetime64[D]")
    order = np.argsort(d, kind="stable")
    d, c, ln = d[order], np.asarray(closes, dtype=float)[order], np.asarray(lines)[order]
    dup = np.flatnonzero(d[1:] == d[:-1])
    if dup.size:
        j = int(dup[0])
        raise ValueError(f"{name}: duplicate Date {d[j]} (rows {ln[j]} and {ln[j + 1]})")
    return d, c
