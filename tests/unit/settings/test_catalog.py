"""docs/settings.md lists every variable, as the catalog generates it."""

from __future__ import annotations

import dataclasses

import pytest

from omnivoice_rtc.settings import Settings, env_vars
from omnivoice_rtc.settings.catalog import all_variables, markdown
from tests.conftest import ROOT

pytestmark = pytest.mark.unit


def test_docs_page_is_the_generated_catalog() -> None:
    page = (ROOT / "docs" / "settings.md").read_text()
    assert page == markdown(), "run: python -m omnivoice_rtc.settings.catalog > docs/settings.md"


def test_every_declared_variable_of_the_tree_is_in_the_catalog() -> None:
    listed = set(all_variables())
    settings = Settings.from_env({})
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        sections = value.values() if f.name == "carriers" else [value]
        for section in sections:
            if dataclasses.is_dataclass(section):
                for _field, spec in env_vars(type(section)):
                    assert spec.name in listed, spec.name


def test_no_variable_is_listed_twice() -> None:
    names = all_variables()
    assert len(names) == len(set(names))
