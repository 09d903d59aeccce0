"""Log rendering (plain and JSON lines, extra always shown) and PII redaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from omnivoice_rtc.logs import (
    REDACTED,
    JsonLinesFormatter,
    PiiFilter,
    PlainFormatter,
    configure_logging,
    install_pii_filter,
    pii,
)
from omnivoice_rtc.settings import LogSettings, Settings

pytestmark = pytest.mark.unit


def _record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("omnivoice_rtc.test")
    return logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "call ended", (), None, extra=extra
    )


def test_plain_renders_extra_as_key_values() -> None:
    line = PlainFormatter().format(_record(call_id="CA1", reason="carrier stop", frames=3))
    assert line.endswith('call ended call_id=CA1 reason="carrier stop" frames=3')


def test_json_lines_render_extra() -> None:
    body = json.loads(JsonLinesFormatter().format(_record(call_id="CA1", frames=3)))
    assert body["message"] == "call ended"
    assert body["logger"] == "omnivoice_rtc.test"
    assert body["level"] == "INFO"
    assert (body["call_id"], body["frames"]) == ("CA1", 3)


def test_pii_keys_and_redaction() -> None:
    extra = {"call_id": "CA1", **pii(from_="+15550100", digit="5")}
    assert set(extra) == {"call_id", "omnivoice.pii.from", "omnivoice.pii.digit"}
    hidden = _record(**extra)
    assert PiiFilter().filter(hidden)
    assert getattr(hidden, "omnivoice.pii.from") == REDACTED
    assert getattr(hidden, "omnivoice.pii.digit") == REDACTED
    assert hidden.call_id == "CA1"  # type: ignore[attr-defined]  # reason: set through extra
    shown = _record(**extra)
    PiiFilter(show=True).filter(shown)
    assert getattr(shown, "omnivoice.pii.from") == "+15550100"


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("root_handlers")
@pytest.mark.parametrize(("env", "shown"), [({}, False), ({"OMNIVOICE_LOG_PII": "1"}, True)])
def test_configure_logging_redacts_unless_pii_is_on(env: dict[str, str], shown: bool) -> None:
    stream = io.StringIO()
    settings = Settings.from_env({"OMNIVOICE_LOG_FORMAT": "json", **env}).log
    configure_logging(settings, stream=stream)
    logging.getLogger("omnivoice_rtc.shim.x").info(
        "caller dtmf", extra={"call_id": "CA9", **pii(digit="7")}
    )
    body = json.loads(stream.getvalue().splitlines()[-1])
    assert body["call_id"] == "CA9"
    assert body["omnivoice.pii.digit"] == ("7" if shown else REDACTED)


@pytest.mark.usefixtures("root_handlers")
def test_configure_logging_replaces_its_own_handler() -> None:
    first = configure_logging(LogSettings())
    second = configure_logging(LogSettings(format="json"))
    handlers = logging.getLogger().handlers
    assert second in handlers
    assert first not in handlers


@pytest.mark.usefixtures("root_handlers")
def test_install_pii_filter_adds_once_to_foreign_handlers() -> None:
    handler = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(handler)
    assert install_pii_filter(LogSettings()) >= 1
    assert install_pii_filter(LogSettings()) == 0
    assert any(isinstance(f, PiiFilter) for f in handler.filters)


async def test_the_bound_call_id_is_on_every_line_of_that_call_only() -> None:
    import asyncio

    from omnivoice_rtc.logs import bind_call_id, current_call_id

    stream = io.StringIO()
    handler = configure_logging(LogSettings(format="json"), stream=stream)
    log = logging.getLogger("omnivoice_rtc.test.calls")
    try:

        async def serve(call_id: str) -> None:
            bind_call_id(call_id)
            await asyncio.sleep(0)
            log.info("turn")
            await asyncio.create_task(asyncio.sleep(0))
            inner = asyncio.create_task(_log_from_child(log))  # tasks started inherit it
            await inner

        await asyncio.gather(serve("call_a"), serve("call_b"))
        log.info("outside")
        log.info("explicit", extra={"call_id": "CA-carrier"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_message: dict[str, list[str | None]] = {}
    for line in lines:
        by_message.setdefault(line["message"], []).append(line.get("call_id"))
    assert sorted(by_message["turn"]) == ["call_a", "call_b"]  # type: ignore[type-var]
    assert sorted(by_message["child"]) == ["call_a", "call_b"]  # type: ignore[type-var]
    assert by_message["outside"] == [None]
    assert by_message["explicit"] == ["CA-carrier"]  # an explicit id is kept
    assert current_call_id() == ""


async def _log_from_child(log: logging.Logger) -> None:
    log.info("child")


def test_install_call_id_filter_adds_it_once() -> None:
    from omnivoice_rtc.logs import CallIdFilter, install_call_id_filter

    logger = logging.getLogger("omnivoice_rtc.test.install_call_id")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        assert install_call_id_filter(logger=logger) == 1
        assert install_call_id_filter(logger=logger) == 0
        assert sum(isinstance(f, CallIdFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)
