"""Loading and validating ``sip/<carrier>.json`` files (no I/O besides reading the file).

A file holds up to three objects in the JSON shape of LiveKit's SIP API:

* ``inbound_trunk``: ``SIPInboundTrunkInfo``
* ``outbound_trunk``: ``SIPOutboundTrunkInfo``
* ``dispatch_rule``: ``SIPDispatchRuleInfo`` (``CreateSIPDispatchRuleRequest.dispatch_rule``)

Strings may hold ``${NAME}`` / ``${NAME:-default}`` placeholders, expanded from the
environment at load time. A list element that is a single placeholder expands to the
comma-separated items of the value (empty value: no item).

An inbound trunk with neither ``allowed_addresses`` nor inbound credentials would admit
any caller: :func:`inbound_trunk_access_problem` names it (``sip apply`` refuses it).

A dispatch rule must put its calls in rooms under a reserved namespace
(:data:`~omnivoice_rtc.livekit.names.RESERVED_ROOM_PREFIXES`, e.g. ``sip-twilio-``), so that
``/api/token`` never hands a browser a token for a phone call's room: its ``room_prefix``
(``room_name`` for a direct rule) is checked by :func:`dispatch_rule_room_problem`.

Every problem raises :class:`ValueError` with the message
``"<file>: field '<dotted.path[i]>': <reason>"`` (``"<file>: <reason>"`` when no
field is at fault).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from livekit import api

from omnivoice_rtc.livekit.names import unreserved_room_reason
from omnivoice_rtc.settings import environment

__all__ = [
    "SECTIONS",
    "SIPFile",
    "dispatch_rule_room_problem",
    "expand_placeholders",
    "inbound_trunk_access_problem",
    "load_sip_file",
    "parse_sip_file",
]

SECTIONS: dict[str, type[Message]] = {
    "inbound_trunk": api.SIPInboundTrunkInfo,
    "outbound_trunk": api.SIPOutboundTrunkInfo,
    "dispatch_rule": api.SIPDispatchRuleInfo,
}

# Fields the server assigns; a file that sets them is refused.
_SERVER_FIELDS = {
    "inbound_trunk": ("sip_trunk_id", "created_at", "updated_at"),
    "outbound_trunk": ("sip_trunk_id", "created_at", "updated_at"),
    "dispatch_rule": ("sip_dispatch_rule_id", "created_at", "updated_at"),
}

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class SIPFile:
    """A validated SIP file: the objects it declares, placeholders expanded."""

    path: Path
    inbound_trunk: api.SIPInboundTrunkInfo | None = None
    outbound_trunk: api.SIPOutboundTrunkInfo | None = None
    dispatch_rule: api.SIPDispatchRuleInfo | None = None


class _FileError(ValueError):
    """A problem at ``field`` (dotted path, may be empty); re-raised with the file name."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _expand_string(value: str, field: str, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        current = env.get(name, "")
        if current:
            return current
        if default is not None:
            return default
        if name in env:
            raise _FileError(field, f"environment variable {name} is empty")
        raise _FileError(field, f"environment variable {name} is not set")

    expanded = _PLACEHOLDER.sub(substitute, value)
    leftover = _PLACEHOLDER.sub("", value)
    if "${" in leftover:
        raise _FileError(field, "malformed placeholder: use ${NAME} or ${NAME:-default}")
    return expanded


def expand_placeholders(value: Any, field: str, env: Mapping[str, str]) -> Any:
    """Return ``value`` (parsed JSON) with every ``${...}`` expanded from ``env``.

    ``field`` is the dotted path of ``value``, used in error messages.
    """
    if isinstance(value, str):
        return _expand_string(value, field, env)
    if isinstance(value, list):
        items: list[Any] = []
        for index, item in enumerate(value):
            where = f"{field}[{index}]"
            if isinstance(item, str) and _PLACEHOLDER.fullmatch(item.strip()):
                expanded = _expand_string(item.strip(), where, env)
                items.extend(part.strip() for part in expanded.split(",") if part.strip())
            else:
                items.append(expand_placeholders(item, where, env))
        return items
    if isinstance(value, dict):
        return {
            key: expand_placeholders(item, f"{field}.{key}" if field else key, env)
            for key, item in value.items()
        }
    return value


def _field_by_key(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    found = descriptor.fields_by_name.get(key)
    if found is not None:
        return found
    for candidate in descriptor.fields:
        if candidate.json_name == key:
            return candidate
    return None


def _check_known_fields(value: Any, descriptor: Descriptor, field: str) -> None:
    """Name the first key of ``value`` that ``descriptor`` has no field for."""
    if not isinstance(value, dict):
        raise _FileError(field, f"must be a JSON object ({descriptor.name}), got {_kind(value)}")
    for key, item in value.items():
        where = f"{field}.{key}"
        proto_field = _field_by_key(descriptor, key)
        if proto_field is None:
            raise _FileError(where, f"unknown field of {descriptor.name}")
        sub = proto_field.message_type
        if sub is None or sub.GetOptions().map_entry or sub.full_name.startswith("google."):
            continue
        if proto_field.is_repeated:
            if not isinstance(item, list):
                raise _FileError(where, f"must be a JSON array, got {_kind(item)}")
            for index, element in enumerate(item):
                _check_known_fields(element, sub, f"{where}[{index}]")
        elif item is not None:
            _check_known_fields(item, sub, where)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _parse_section(section: str, value: Any) -> Message:
    message_type = SECTIONS[section]
    # The upb Descriptor the stubs also allow has the same API as descriptor.Descriptor.
    descriptor = cast(Descriptor, message_type.DESCRIPTOR)
    _check_known_fields(value, descriptor, section)
    for server_field in _SERVER_FIELDS[section]:
        json_name = message_type.DESCRIPTOR.fields_by_name[server_field].json_name
        if server_field in value or json_name in value:
            raise _FileError(f"{section}.{server_field}", "is assigned by the server; remove it")
    try:
        return json_format.ParseDict(value, message_type())
    except json_format.ParseError as exc:
        raise _FileError(section, f"invalid value: {exc}") from None


def _check_number(number: str, field: str) -> None:
    if not _E164.fullmatch(number):
        raise _FileError(field, f"must be an E.164 phone number like +15105550100, got {number!r}")


def _validate_inbound(trunk: api.SIPInboundTrunkInfo) -> None:
    if not trunk.name.strip():
        raise _FileError("inbound_trunk.name", "is required")
    for index, number in enumerate(trunk.numbers):
        _check_number(number, f"inbound_trunk.numbers[{index}]")
    for index, number in enumerate(trunk.allowed_numbers):
        _check_number(number, f"inbound_trunk.allowed_numbers[{index}]")
    for index, address in enumerate(trunk.allowed_addresses):
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise _FileError(
                f"inbound_trunk.allowed_addresses[{index}]",
                f"must be an IP address or CIDR range, got {address!r}",
            ) from None
    if bool(trunk.auth_username) != bool(trunk.auth_password):
        raise _FileError(
            "inbound_trunk.auth_password", "auth_username and auth_password go together"
        )


def _validate_outbound(trunk: api.SIPOutboundTrunkInfo) -> None:
    if not trunk.name.strip():
        raise _FileError("outbound_trunk.name", "is required")
    if not trunk.address:
        raise _FileError("outbound_trunk.address", "is required (the carrier's SIP host)")
    if not _HOST.fullmatch(trunk.address):
        raise _FileError(
            "outbound_trunk.address",
            f"must be a host name or host:port without 'sip:', got {trunk.address!r}",
        )
    if not trunk.numbers:
        raise _FileError("outbound_trunk.numbers", "needs at least one caller-ID number")
    for index, number in enumerate(trunk.numbers):
        _check_number(number, f"outbound_trunk.numbers[{index}]")
    if bool(trunk.auth_username) != bool(trunk.auth_password):
        raise _FileError(
            "outbound_trunk.auth_password", "auth_username and auth_password go together"
        )


def _validate_rule(rule: api.SIPDispatchRuleInfo, has_inbound: bool) -> None:
    if not rule.name.strip():
        raise _FileError("dispatch_rule.name", "is required")
    if rule.rule.WhichOneof("rule") is None:
        raise _FileError(
            "dispatch_rule.rule",
            "is required: one of dispatch_rule_direct, dispatch_rule_individual, "
            "dispatch_rule_callee",
        )
    if has_inbound and rule.trunk_ids:
        raise _FileError(
            "dispatch_rule.trunk_ids", "is set by apply to the file's inbound trunk; remove it"
        )
    for index, number in enumerate(rule.inbound_numbers):
        _check_number(number, f"dispatch_rule.inbound_numbers[{index}]")
    for index, agent in enumerate(rule.room_config.agents):
        if not agent.agent_name.strip():
            raise _FileError(f"dispatch_rule.room_config.agents[{index}].agent_name", "is required")
    problem = dispatch_rule_room_problem(rule)
    if problem is not None:
        raise _FileError(*problem)


def inbound_trunk_access_problem(trunk: api.SIPInboundTrunkInfo) -> tuple[str, str] | None:
    """``(field, reason)`` when anyone may call through ``trunk``: it names neither the
    addresses calls may come from (``allowed_addresses``) nor credentials they must
    present (``auth_username``/``auth_password``). None when it names one of them."""
    if list(trunk.allowed_addresses) or (trunk.auth_username and trunk.auth_password):
        return None
    return (
        "inbound_trunk.allowed_addresses",
        "an inbound trunk needs allowed_addresses (your carrier's signalling IPs/CIDRs) or "
        "auth_username/auth_password: without either, any address that knows the number "
        "gets an agent (sip/<carrier>.json reads <CARRIER>_SIP_ALLOWED_ADDRESSES or "
        "<CARRIER>_SIP_INBOUND_USERNAME/_PASSWORD)",
    )


def dispatch_rule_room_problem(rule: api.SIPDispatchRuleInfo) -> tuple[str, str] | None:
    """``(field, reason)`` when the rooms ``rule`` creates are not under a reserved prefix
    (a browser could join them), else None. ``field`` is the dotted path in the file."""
    kind = rule.rule.WhichOneof("rule")
    if kind == "dispatch_rule_direct":
        field, value = "room_name", rule.rule.dispatch_rule_direct.room_name
    elif kind == "dispatch_rule_individual":
        field, value = "room_prefix", rule.rule.dispatch_rule_individual.room_prefix
    elif kind == "dispatch_rule_callee":
        field, value = "room_prefix", rule.rule.dispatch_rule_callee.room_prefix
    else:
        return None  # no rule at all: reported as missing
    reason = unreserved_room_reason(value)
    return None if reason is None else (f"dispatch_rule.rule.{kind}.{field}", reason)


def parse_sip_file(data: Any, *, env: Mapping[str, str]) -> dict[str, Message]:
    """Validate parsed JSON ``data``; return the messages by section (raises _FileError)."""
    if not isinstance(data, dict):
        raise _FileError("", f"must hold a JSON object, got {_kind(data)}")
    for key in data:
        if key not in SECTIONS:
            raise _FileError(key, f"unknown field (expected {', '.join(SECTIONS)})")
    if not data:
        raise _FileError("", f"declares nothing: expected one of {', '.join(SECTIONS)}")
    expanded = expand_placeholders(data, "", env)
    messages = {section: _parse_section(section, value) for section, value in expanded.items()}
    inbound = messages.get("inbound_trunk")
    outbound = messages.get("outbound_trunk")
    rule = messages.get("dispatch_rule")
    if isinstance(inbound, api.SIPInboundTrunkInfo):
        _validate_inbound(inbound)
    if isinstance(outbound, api.SIPOutboundTrunkInfo):
        _validate_outbound(outbound)
    if isinstance(rule, api.SIPDispatchRuleInfo):
        _validate_rule(rule, has_inbound=inbound is not None)
    return messages


def load_sip_file(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> SIPFile:
    """Read, expand and validate the SIP file at ``path`` (env: default ``os.environ``).

    Raises ValueError ``"<path>: field '<field>': <reason>"`` on any problem.
    """
    file_path = Path(path)
    env = environment() if env is None else env
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{file_path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{file_path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{file_path}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    try:
        messages = parse_sip_file(data, env=env)
    except _FileError as exc:
        where = f" field '{exc.field}':" if exc.field else ""
        raise ValueError(f"{file_path}:{where} {exc.reason}") from None
    inbound = messages.get("inbound_trunk")
    outbound = messages.get("outbound_trunk")
    rule = messages.get("dispatch_rule")
    assert inbound is None or isinstance(inbound, api.SIPInboundTrunkInfo)
    assert outbound is None or isinstance(outbound, api.SIPOutboundTrunkInfo)
    assert rule is None or isinstance(rule, api.SIPDispatchRuleInfo)
    return SIPFile(
        path=file_path, inbound_trunk=inbound, outbound_trunk=outbound, dispatch_rule=rule
    )
