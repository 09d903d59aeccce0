"""Appending a bench run to docs/benchmarks.md (runs are kept: before/after)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

__all__ = ["DOC", "append_run"]

DOC: Final = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def append_run(text: str, label: str, *, section: str, doc: Path = DOC) -> None:
    """Append ``text`` under ``### label`` at the end of ``section`` (a ``## `` heading
    line) in ``doc``; the section is created at the end of the file when missing."""
    current = doc.read_text(encoding="utf-8")
    block = f"### {label}\n\n{text}"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    match = pattern.search(current)
    if match is None:
        updated = current.rstrip("\n") + f"\n\n{section}\n\n{block}"
    else:
        body = match.group(0).rstrip("\n") + "\n\n" + block + "\n"
        updated = current[: match.start()] + body + current[match.end() :]
    doc.write_text(updated, encoding="utf-8")
