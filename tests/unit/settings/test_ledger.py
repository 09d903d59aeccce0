"""The ledger and webhook settings: defaults, parsing, refusals that name the variable."""

from __future__ import annotations

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.settings import LedgerSettings, Settings, WebhookSettings
from omnivoice_rtc.settings.ledger import default_database_url

pytestmark = pytest.mark.unit


def test_unset_database_url_is_a_file_in_the_users_state_directory() -> None:
    settings = Settings.from_env({"HOME": "/home/ann"})
    assert settings.ledger.database_url == "sqlite:////home/ann/.local/state/omnivoice-rtc/calls.db"
    assert settings.ledger.enabled
    assert settings.agent.ledger == settings.ledger  # the worker's jobs record to the same place
    assert (
        default_database_url({"XDG_STATE_HOME": "/s", "HOME": "/h"})
        == "sqlite:////s/omnivoice-rtc/calls.db"
    )


def test_built_in_code_it_records_nothing() -> None:
    assert not LedgerSettings().enabled
    assert not Settings().ledger.enabled


def test_off_and_urls() -> None:
    assert not LedgerSettings.from_env({"OMNIVOICE_DATABASE_URL": "off"}).enabled
    url = "postgresql://u:pw@db.internal/calls"
    settings = LedgerSettings.from_env(
        {"OMNIVOICE_DATABASE_URL": url, "OMNIVOICE_RETENTION_DAYS": "30"}
    )
    assert (settings.database_url, settings.retention_days) == (url, 30)
    assert "pw" not in repr(settings)  # the URL may hold a password


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OMNIVOICE_DATABASE_URL": "mysql://x/y"}, "OMNIVOICE_DATABASE_URL"),
        ({"OMNIVOICE_DATABASE_URL": "sqlite://"}, "OMNIVOICE_DATABASE_URL"),
        ({"OMNIVOICE_RETENTION_DAYS": "-1"}, "OMNIVOICE_RETENTION_DAYS"),
    ],
)
def test_bad_ledger_values_name_their_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=f"^{named}:"):
        LedgerSettings.from_env(env)


def test_webhook_endpoints_with_one_secret_or_one_each() -> None:
    one = WebhookSettings.from_env(
        {
            "OMNIVOICE_WEBHOOK_URL": "https://a.test/h, https://b.test/h",
            "OMNIVOICE_WEBHOOK_SECRET": "s",
        }
    )
    assert one.endpoints() == [("https://a.test/h", "s"), ("https://b.test/h", "s")]
    each = WebhookSettings.from_env(
        {
            "OMNIVOICE_WEBHOOK_URL": "https://a.test/h,https://b.test/h",
            "OMNIVOICE_WEBHOOK_SECRET": "s1,s2",
        }
    )
    assert each.endpoints() == [("https://a.test/h", "s1"), ("https://b.test/h", "s2")]
    assert each.events == ("call.started", "call.answered", "call.ended")
    assert "s1" not in repr(each)
    assert not WebhookSettings.from_env({}).enabled


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OMNIVOICE_WEBHOOK_URL": "https://a.test/h"}, "OMNIVOICE_WEBHOOK_SECRET"),  # unsigned
        (
            {"OMNIVOICE_WEBHOOK_URL": "a.test/h", "OMNIVOICE_WEBHOOK_SECRET": "s"},
            "OMNIVOICE_WEBHOOK_URL",
        ),
        (
            {
                "OMNIVOICE_WEBHOOK_URL": "https://a.test,https://b.test,https://c.test",
                "OMNIVOICE_WEBHOOK_SECRET": "1,2",
            },
            "OMNIVOICE_WEBHOOK_SECRET",
        ),
        ({"OMNIVOICE_WEBHOOK_EVENTS": "call.started,call.exploded"}, "OMNIVOICE_WEBHOOK_EVENTS"),
    ],
)
def test_bad_webhook_settings_name_their_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=f"^{named}:"):
        WebhookSettings.from_env(env)
