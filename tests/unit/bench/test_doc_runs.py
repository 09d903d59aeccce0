"""bench.doc_runs: a run goes at the end of its section, or into a new one at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.doc_runs import append_run

pytestmark = pytest.mark.unit


def test_a_run_is_appended_to_its_section_before_the_next_one(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n\n## One\n\n### old\n\nx\n\n## Two\n\ny\n", encoding="utf-8")
    append_run("z\n", "new", section="## One", doc=doc)
    assert doc.read_text(encoding="utf-8") == (
        "# B\n\n## One\n\n### old\n\nx\n\n### new\n\nz\n\n## Two\n\ny\n"
    )
    append_run("w\n", "first", section="## Three", doc=doc)
    assert doc.read_text(encoding="utf-8").endswith("y\n\n## Three\n\n### first\n\nw\n")
