"""The shipped migrations build exactly the models' schema, and downgrade cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from omnivoice_rtc.ledger.engine import create_engine, downgrade, migrate, schema_revision
from omnivoice_rtc.ledger.schema import Base

pytestmark = pytest.mark.unit


async def test_migrations_match_the_models_and_go_back_down(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    try:
        await migrate(engine)

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
        await downgrade(engine, revision="base")

        def tables(connection: Connection) -> list[str]:
            return [t for t in inspect(connection).get_table_names() if t != "alembic_version"]

        async with engine.connect() as conn:
            assert await conn.run_sync(tables) == []
        assert await schema_revision(engine) is None
    finally:
        await engine.dispose()
