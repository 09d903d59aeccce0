"""sip/<carrier>.json loading: placeholders, validation errors naming file, field, reason."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from livekit import api

from omnivoice_rtc.livekit.names import is_reserved_room_name, sip_dispatch_room_prefix
from omnivoice_rtc.sip.sipfile import (
    expand_placeholders,
    inbound_trunk_access_problem,
    load_sip_file,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.unit


def _exact(message: str) -> str:
    """A ``match=`` pattern for exactly ``message``."""
    return f"^{re.escape(message)}$"


CARRIER_ENV = {
    "TWILIO_SIP_NUMBER": "+15105550100",
    "TWILIO_SIP_TERMINATION_URI": "omni.pstn.twilio.com",
    "TWILIO_SIP_USERNAME": "twuser",
    "TWILIO_SIP_PASSWORD": "twpass",
    "TELNYX_SIP_NUMBER": "+15105550101",
    "TELNYX_SIP_USERNAME": "txuser",
    "TELNYX_SIP_PASSWORD": "txpass",
    "VONAGE_SIP_NUMBER": "+15105550102",
    "VONAGE_API_KEY": "vgkey",
    "VONAGE_API_SECRET": "vgsecret",
    "PLIVO_SIP_NUMBER": "+15105550103",
    "PLIVO_SIP_TRUNK_DOMAIN": "21784177241578.zt.plivo.com",
    "PLIVO_SIP_USERNAME": "pluser",
    "PLIVO_SIP_PASSWORD": "plpass",
}
APPLY_ENV = {
    **CARRIER_ENV,
    "TWILIO_SIP_ALLOWED_ADDRESSES": "54.172.60.0/30",
    "TELNYX_SIP_ALLOWED_ADDRESSES": "192.76.120.10,64.16.250.10",
    "VONAGE_SIP_INBOUND_USERNAME": "vg-in",
    "VONAGE_SIP_INBOUND_PASSWORD": "vg-in-pass",
    "PLIVO_SIP_ALLOWED_ADDRESSES": "15.207.90.192/31",
}
"""CARRIER_ENV plus what ``sip apply`` requires of an inbound trunk: allowed addresses, or
(Vonage here) inbound credentials."""


def _write(tmp_path: Path, data: Any, name: str = "x.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _minimal() -> dict[str, Any]:
    return {
        "inbound_trunk": {"name": "in", "numbers": ["+15105550100"]},
        "outbound_trunk": {
            "name": "out",
            "address": "sip.example.com",
            "numbers": ["+15105550100"],
        },
        "dispatch_rule": {
            "name": "rule",
            "rule": {"dispatch_rule_individual": {"room_prefix": "sip-example-"}},
            "room_config": {"agents": [{"agent_name": "omnivoice-agent"}]},
        },
    }


@pytest.mark.parametrize("carrier", ["twilio", "telnyx", "vonage", "plivo"])
def test_carrier_files_load_with_their_env(carrier: str) -> None:
    loaded = load_sip_file(ROOT / "sip" / f"{carrier}.json", env=CARRIER_ENV)
    assert loaded.inbound_trunk is not None
    assert loaded.outbound_trunk is not None
    assert loaded.dispatch_rule is not None
    assert loaded.inbound_trunk.name == f"{carrier}-inbound"
    assert loaded.inbound_trunk.numbers[0].startswith("+1510555010")
    assert list(loaded.inbound_trunk.allowed_addresses) == []
    assert loaded.outbound_trunk.auth_username
    assert loaded.outbound_trunk.auth_password
    agents = loaded.dispatch_rule.room_config.agents
    assert [a.agent_name for a in agents] == ["omnivoice-agent"]
    assert loaded.dispatch_rule.rule.WhichOneof("rule") == "dispatch_rule_individual"
    prefix = loaded.dispatch_rule.rule.dispatch_rule_individual.room_prefix
    assert prefix == sip_dispatch_room_prefix(carrier) == f"sip-{carrier}-"
    assert is_reserved_room_name(prefix)


@pytest.mark.parametrize("carrier", ["twilio", "telnyx", "vonage", "plivo"])
def test_an_inbound_trunk_is_open_without_addresses_or_credentials(carrier: str) -> None:
    unset = load_sip_file(ROOT / "sip" / f"{carrier}.json", env=CARRIER_ENV)
    assert unset.inbound_trunk is not None
    assert inbound_trunk_access_problem(unset.inbound_trunk) == (
        "inbound_trunk.allowed_addresses",
        "an inbound trunk needs allowed_addresses (your carrier's signalling IPs/CIDRs) or "
        "auth_username/auth_password: without either, any address that knows the number "
        "gets an agent (sip/<carrier>.json reads <CARRIER>_SIP_ALLOWED_ADDRESSES or "
        "<CARRIER>_SIP_INBOUND_USERNAME/_PASSWORD)",
    )
    closed = load_sip_file(ROOT / "sip" / f"{carrier}.json", env=APPLY_ENV)
    assert closed.inbound_trunk is not None
    assert inbound_trunk_access_problem(closed.inbound_trunk) is None
    prefix = carrier.upper()
    if f"{prefix}_SIP_ALLOWED_ADDRESSES" in APPLY_ENV:
        expected = APPLY_ENV[f"{prefix}_SIP_ALLOWED_ADDRESSES"].split(",")
        assert list(closed.inbound_trunk.allowed_addresses) == expected
    else:
        trunk = closed.inbound_trunk
        assert (trunk.auth_username, trunk.auth_password) == ("vg-in", "vg-in-pass")


def test_agent_name_comes_from_env() -> None:
    env = {**CARRIER_ENV, "OMNIVOICE_AGENT_NAME": "my-agent"}
    loaded = load_sip_file(ROOT / "sip" / "twilio.json", env=env)
    assert loaded.dispatch_rule is not None
    assert loaded.dispatch_rule.room_config.agents[0].agent_name == "my-agent"


def test_telnyx_sends_username_header_and_default_host() -> None:
    loaded = load_sip_file(ROOT / "sip" / "telnyx.json", env=CARRIER_ENV)
    assert loaded.outbound_trunk is not None
    assert loaded.outbound_trunk.address == "sip.telnyx.com"
    assert dict(loaded.outbound_trunk.headers) == {"X-Telnyx-Username": "txuser"}


def test_missing_env_names_file_field_and_variable() -> None:
    env = dict(CARRIER_ENV)
    del env["TWILIO_SIP_NUMBER"]
    path = ROOT / "sip" / "twilio.json"
    expected = (
        f"{path}: field 'inbound_trunk.numbers[0]': "
        "environment variable TWILIO_SIP_NUMBER is not set"
    )
    with pytest.raises(ValueError, match=_exact(expected)):
        load_sip_file(path, env=env)


def test_empty_env_is_an_error_for_required_placeholders() -> None:
    env = {**CARRIER_ENV, "PLIVO_SIP_PASSWORD": ""}
    with pytest.raises(
        ValueError,
        match=r"'outbound_trunk.auth_password': environment variable "
        r"PLIVO_SIP_PASSWORD is empty",
    ):
        load_sip_file(ROOT / "sip" / "plivo.json", env=env)


def test_list_placeholder_splits_on_commas() -> None:
    value = ["${ADDRS}", "10.0.0.1"]
    env = {"ADDRS": " 54.172.60.0/30, 54.244.51.0/30 ,"}
    assert expand_placeholders(value, "x", env) == ["54.172.60.0/30", "54.244.51.0/30", "10.0.0.1"]
    assert expand_placeholders(["${NONE:-}"], "x", {}) == []


def test_placeholders_inside_strings_and_defaults() -> None:
    env = {"HOST": "example.com"}
    assert expand_placeholders("sip:${USER:-agent}@${HOST}", "f", env) == "sip:agent@example.com"
    assert expand_placeholders({"a": {"b": "${HOST}"}}, "", env) == {"a": {"b": "example.com"}}
    assert expand_placeholders(7, "f", env) == 7


def test_malformed_placeholder(tmp_path: Path) -> None:
    data = _minimal()
    data["outbound_trunk"]["address"] = "${HOST"
    path = _write(tmp_path, data)
    expected = (
        f"{path}: field 'outbound_trunk.address': "
        "malformed placeholder: use ${NAME} or ${NAME:-default}"
    )
    with pytest.raises(ValueError, match=_exact(expected)):
        load_sip_file(path, env={})


def test_minimal_file_accepts_lower_camel_case(tmp_path: Path) -> None:
    data = _minimal()
    data["dispatch_rule"] = {
        "name": "rule",
        "rule": {"dispatchRuleCallee": {"roomPrefix": "call-", "randomize": True}},
        "roomConfig": {"agents": [{"agentName": "a"}]},
    }
    loaded = load_sip_file(_write(tmp_path, data), env={})
    assert loaded.dispatch_rule is not None
    assert loaded.dispatch_rule.rule.dispatch_rule_callee.randomize is True
    assert loaded.dispatch_rule.room_config.agents[0].agent_name == "a"


def test_sections_are_optional_but_not_all(tmp_path: Path) -> None:
    loaded = load_sip_file(_write(tmp_path, {"outbound_trunk": _minimal()["outbound_trunk"]}))
    assert loaded.inbound_trunk is None
    assert loaded.dispatch_rule is None
    path = _write(tmp_path, {}, "empty.json")
    expected = (
        f"{path}: declares nothing: expected one of inbound_trunk, outbound_trunk, dispatch_rule"
    )
    with pytest.raises(ValueError, match=_exact(expected)):
        load_sip_file(path, env={})


BAD_FILES: list[tuple[str, Any, str]] = [
    ("top-level array", [], "must hold a JSON object, got an array"),
    (
        "unknown section",
        {"inbound": {}},
        "field 'inbound': unknown field (expected inbound_trunk, outbound_trunk, dispatch_rule)",
    ),
    (
        "unknown trunk field",
        {"outbound_trunk": {"name": "o", "adress": "x", "numbers": ["+15105550100"]}},
        "field 'outbound_trunk.adress': unknown field of SIPOutboundTrunkInfo",
    ),
    (
        "unknown nested field",
        {"dispatch_rule": {"name": "r", "room_config": {"agents": [{"agent": "a"}]}}},
        "field 'dispatch_rule.room_config.agents[0].agent': unknown field of RoomAgentDispatch",
    ),
    (
        "section not an object",
        {"inbound_trunk": ["+15105550100"]},
        "field 'inbound_trunk': must be a JSON object (SIPInboundTrunkInfo), got an array",
    ),
    (
        "repeated message not an array",
        {"dispatch_rule": {"name": "r", "room_config": {"agents": {"agent_name": "a"}}}},
        "field 'dispatch_rule.room_config.agents': must be a JSON array, got an object",
    ),
    (
        "server-assigned id",
        {"inbound_trunk": {"name": "i", "sip_trunk_id": "ST_1"}},
        "field 'inbound_trunk.sip_trunk_id': is assigned by the server; remove it",
    ),
    (
        "missing name",
        {"inbound_trunk": {"numbers": ["+15105550100"]}},
        "field 'inbound_trunk.name': is required",
    ),
    (
        "bad number",
        {"inbound_trunk": {"name": "i", "numbers": ["5105550100"]}},
        "field 'inbound_trunk.numbers[0]': must be an E.164 phone number like +15105550100, "
        "got '5105550100'",
    ),
    (
        "bad allowed address",
        {"inbound_trunk": {"name": "i", "allowed_addresses": ["twilio.com"]}},
        "field 'inbound_trunk.allowed_addresses[0]': must be an IP address or CIDR range, "
        "got 'twilio.com'",
    ),
    (
        "outbound address with scheme",
        {"outbound_trunk": {"name": "o", "address": "sip:x.com", "numbers": ["+15105550100"]}},
        "field 'outbound_trunk.address': must be a host name or host:port without 'sip:', "
        "got 'sip:x.com'",
    ),
    (
        "outbound address missing",
        {"outbound_trunk": {"name": "o", "numbers": ["+15105550100"]}},
        "field 'outbound_trunk.address': is required (the carrier's SIP host)",
    ),
    (
        "outbound without numbers",
        {"outbound_trunk": {"name": "o", "address": "x.com"}},
        "field 'outbound_trunk.numbers': needs at least one caller-ID number",
    ),
    (
        "password without username",
        {
            "outbound_trunk": {
                "name": "o",
                "address": "x.com",
                "numbers": ["+15105550100"],
                "auth_password": "p",
            }
        },
        "field 'outbound_trunk.auth_password': auth_username and auth_password go together",
    ),
    (
        "rule without rule",
        {"dispatch_rule": {"name": "r"}},
        "field 'dispatch_rule.rule': is required: one of dispatch_rule_direct, "
        "dispatch_rule_individual, dispatch_rule_callee",
    ),
    (
        "rule with trunk ids beside an inbound trunk",
        {
            "inbound_trunk": {"name": "i"},
            "dispatch_rule": {
                "name": "r",
                "trunk_ids": ["ST_1"],
                "rule": {"dispatch_rule_direct": {"room_name": "x"}},
            },
        },
        "field 'dispatch_rule.trunk_ids': is set by apply to the file's inbound trunk; remove it",
    ),
    (
        "empty agent name",
        {
            "dispatch_rule": {
                "name": "r",
                "rule": {"dispatch_rule_direct": {"room_name": "x"}},
                "room_config": {"agents": [{"agent_name": " "}]},
            }
        },
        "field 'dispatch_rule.room_config.agents[0].agent_name': is required",
    ),
]


@pytest.mark.parametrize(
    ("data", "reason"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_malformed_file_names_file_field_and_reason(tmp_path: Path, data: Any, reason: str) -> None:
    path = _write(tmp_path, data)
    expected = f"{path}: {reason}"
    with pytest.raises(ValueError, match=_exact(expected)):
        load_sip_file(path, env={})


def test_wrong_value_type_names_the_section(tmp_path: Path) -> None:
    path = _write(tmp_path, {"inbound_trunk": {"name": "i", "numbers": "+15105550100"}})
    prefix = re.escape(f"{path}: field 'inbound_trunk': invalid value: ")
    with pytest.raises(ValueError, match=f"^{prefix}.*numbers"):
        load_sip_file(path, env={})


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, '{\n  "inbound_trunk": {,}\n}')
    expected = (
        f"{path}: line 2 column 21: invalid JSON: Expecting property name enclosed in double quotes"
    )
    with pytest.raises(ValueError, match=_exact(expected)):
        load_sip_file(path, env={})


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    expected = f"{path}: cannot read: No such file or directory"
    with pytest.raises(ValueError, match=_exact(expected)):
        load_sip_file(path, env={})


def test_loaded_messages_are_livekit_types(tmp_path: Path) -> None:
    loaded = load_sip_file(_write(tmp_path, _minimal()), env={})
    assert isinstance(loaded.inbound_trunk, api.SIPInboundTrunkInfo)
    assert isinstance(loaded.outbound_trunk, api.SIPOutboundTrunkInfo)
    assert isinstance(loaded.dispatch_rule, api.SIPDispatchRuleInfo)


UNRESERVED_RULES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "individual",
        {"dispatch_rule_individual": {"room_prefix": "twilio-call"}},
        "dispatch_rule.rule.dispatch_rule_individual.room_prefix",
        "'twilio-call'",
    ),
    (
        "callee",
        {"dispatchRuleCallee": {"roomPrefix": "number-"}},
        "dispatch_rule.rule.dispatch_rule_callee.room_prefix",
        "'number-'",
    ),
    (
        "direct",
        {"dispatch_rule_direct": {"room_name": "open-room"}},
        "dispatch_rule.rule.dispatch_rule_direct.room_name",
        "'open-room'",
    ),
    (
        "no prefix",
        {"dispatch_rule_individual": {}},
        "dispatch_rule.rule.dispatch_rule_individual.room_prefix",
        "''",
    ),
]


@pytest.mark.parametrize(
    ("rule", "field", "got"),
    [c[1:] for c in UNRESERVED_RULES],
    ids=[c[0] for c in UNRESERVED_RULES],
)
def test_dispatch_rule_rooms_must_be_reserved(
    tmp_path: Path, rule: dict[str, Any], field: str, got: str
) -> None:
    data = _minimal()
    data["dispatch_rule"]["rule"] = rule
    path = _write(tmp_path, data)
    expected = (
        f"{path}: field '{field}': rooms of phone calls must start with 'call-' or 'sip-' so "
        f"that browsers cannot join them (e.g. 'sip-<carrier>-'), got {got}"
    )
    with pytest.raises(ValueError, match=_exact(expected)):
        load_sip_file(path, env={})


@pytest.mark.parametrize("room", ["sip-acme-", "SIP-acme-", "call-", "sip-"])
def test_dispatch_rule_rooms_under_a_reserved_prefix_load(tmp_path: Path, room: str) -> None:
    data = _minimal()
    data["dispatch_rule"]["rule"] = {"dispatch_rule_direct": {"room_name": room}}
    loaded = load_sip_file(_write(tmp_path, data), env={})
    assert loaded.dispatch_rule is not None
    assert loaded.dispatch_rule.rule.dispatch_rule_direct.room_name == room
