"""Maintainers: generate a new ledger migration from the models (``schema.py``).

    python -m omnivoice_rtc.ledger.revision "add a column"

Builds a scratch SQLite database at the newest revision, then lets Alembic compare it
with the models and write ``migrations/versions/<rev>_<slug>.py``. Review the file.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from omnivoice_rtc.ledger.engine import MIGRATIONS_DIR


def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'scratch.db'}"
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head")
        engine = create_engine(url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=True)
        engine.dispose()


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "change")
