"""Declarative SIP provisioning: create or update trunks and dispatch rules by name.

``apply(path)`` loads ``sip/<carrier>.json`` (:func:`load_sip_file`: a malformed file
raises ValueError naming the file, the field and the reason), then for each object
finds the server object with the same name and creates it, replaces it in place
(same id) when it differs, or leaves it alone. The result says which, per object.

The dispatch rule of a file is bound to that file's inbound trunk (``trunk_ids``).
A dispatch rule whose rooms would not start with a reserved prefix (``sip-``, ``call-``:
see :mod:`omnivoice_rtc.livekit.names`) is refused before anything is applied, so a
browser can never be given a token for a phone call's room; so is an inbound trunk with
neither allowed addresses nor credentials (anyone could call the agent).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

from google.protobuf.message import Message
from livekit import api

from omnivoice_rtc._errors import ConfigError, OmniVoiceError
from omnivoice_rtc.livekit.rooms import lease_room_control
from omnivoice_rtc.settings import LiveKitSettings, environment
from omnivoice_rtc.sip.sipfile import (
    SIPFile,
    dispatch_rule_room_problem,
    inbound_trunk_access_problem,
    load_sip_file,
)

__all__ = [
    "ApplyResult",
    "ObjectKind",
    "Outcome",
    "ProvisioningError",
    "SIPObject",
    "apply",
    "apply_file",
    "delete",
    "list_objects",
    "load_sip_file",
]

logger = logging.getLogger(__name__)

ObjectKind = Literal["inbound_trunk", "outbound_trunk", "dispatch_rule"]
Outcome = Literal["created", "updated", "unchanged", "deleted"]

_M = TypeVar("_M", bound=Message)

# Server-assigned fields, ignored when comparing the file with the server.
_SERVER_FIELDS = ("sip_trunk_id", "sip_dispatch_rule_id", "created_at", "updated_at")


class ProvisioningError(OmniVoiceError):
    """The server refused a provisioning request, or the server state is ambiguous."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    """What happened to one object: ``kind``, ``name``, server ``id`` and ``outcome``."""

    kind: ObjectKind
    name: str
    id: str
    outcome: Outcome

    def describe(self) -> str:
        return f"{self.kind} {self.name} ({self.id}): {self.outcome}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SIPObject:
    """One trunk or dispatch rule on the server (``numbers``: its phone numbers)."""

    kind: ObjectKind
    id: str
    name: str
    numbers: tuple[str, ...] = ()
    detail: str = ""

    def describe(self) -> str:
        numbers = ",".join(self.numbers) or "-"
        return f"{self.kind:<15} {self.id:<20} {self.name:<24} {numbers} {self.detail}".rstrip()


@asynccontextmanager
async def _client(
    client: api.LiveKitAPI | None, env: Mapping[str, str] | None
) -> AsyncIterator[api.LiveKitAPI]:
    if client is not None:
        yield client
        return
    settings = LiveKitSettings.from_env(environment() if env is None else env)
    lease = lease_room_control(settings)  # the process's one LiveKitAPI
    try:
        yield lease.rooms.api
    finally:
        await lease.aclose()


def _prune_empty(message: Message) -> None:
    """Clear singular sub-messages that are set but empty (the server sets ``media {}``)."""
    for field, value in message.ListFields():
        if field.message_type is None or field.is_repeated:
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        _prune_empty(value)
        if value.ByteSize() == 0:
            message.ClearField(field.name)


def _comparable(message: _M) -> _M:
    """``message`` without server-assigned fields and empty sub-messages."""
    copy = type(message)()
    copy.CopyFrom(message)
    for name in _SERVER_FIELDS:
        if name in copy.DESCRIPTOR.fields_by_name:
            copy.ClearField(name)
    _prune_empty(copy)
    return copy


def _single(kind: ObjectKind, name: str, found: Sequence[_M], id_field: str) -> _M | None:
    if len(found) > 1:
        ids = ", ".join(str(getattr(item, id_field)) for item in found)
        raise ProvisioningError(
            f"{kind} {name}: {len(found)} objects on the server carry this name ({ids}); "
            "delete the extra ones with `omnivoice-rtc sip delete`"
        )
    return found[0] if found else None


def _refused(kind: ObjectKind, name: str, exc: api.TwirpError) -> ProvisioningError:
    return ProvisioningError(f"{kind} {name}: the server refused it: {exc.code}: {exc.message}")


_SIPObject = TypeVar(
    "_SIPObject", api.SIPInboundTrunkInfo, api.SIPOutboundTrunkInfo, api.SIPDispatchRuleInfo
)


async def _reconcile(
    kind: ObjectKind,
    desired: _SIPObject,
    *,
    listed: Sequence[_SIPObject],
    id_field: str,
    create: Callable[[], Awaitable[_SIPObject]],
    update: Callable[[str], Awaitable[object]],
) -> ApplyResult:
    """Create, leave or update the one object named like ``desired`` (matched by name)."""
    name = desired.name
    existing = _single(kind, name, [item for item in listed if item.name == name], id_field)
    try:
        if existing is None:
            created = await create()
            return ApplyResult(
                kind=kind, name=name, id=getattr(created, id_field), outcome="created"
            )
        existing_id: str = getattr(existing, id_field)
        if _comparable(existing) == _comparable(desired):
            return ApplyResult(kind=kind, name=name, id=existing_id, outcome="unchanged")
        await update(existing_id)
    except api.TwirpError as exc:
        raise _refused(kind, name, exc) from exc
    return ApplyResult(kind=kind, name=name, id=existing_id, outcome="updated")


async def _apply_inbound(lk: api.LiveKitAPI, desired: api.SIPInboundTrunkInfo) -> ApplyResult:
    listed = await lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())
    return await _reconcile(
        "inbound_trunk",
        desired,
        listed=listed.items,
        id_field="sip_trunk_id",
        create=lambda: lk.sip.create_inbound_trunk(api.CreateSIPInboundTrunkRequest(trunk=desired)),
        update=lambda trunk_id: lk.sip.update_inbound_trunk(trunk_id, desired),
    )


async def _apply_outbound(lk: api.LiveKitAPI, desired: api.SIPOutboundTrunkInfo) -> ApplyResult:
    listed = await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
    return await _reconcile(
        "outbound_trunk",
        desired,
        listed=listed.items,
        id_field="sip_trunk_id",
        create=lambda: lk.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(trunk=desired)
        ),
        update=lambda trunk_id: lk.sip.update_outbound_trunk(trunk_id, desired),
    )


async def _apply_rule(lk: api.LiveKitAPI, desired: api.SIPDispatchRuleInfo) -> ApplyResult:
    listed = await lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())
    return await _reconcile(
        "dispatch_rule",
        desired,
        listed=listed.items,
        id_field="sip_dispatch_rule_id",
        create=lambda: lk.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(dispatch_rule=desired)
        ),
        update=lambda rule_id: lk.sip.update_dispatch_rule(rule_id, desired),
    )


async def apply_file(sip_file: SIPFile, *, client: api.LiveKitAPI) -> list[ApplyResult]:
    """Create or update the objects of a loaded ``sip_file``; one result per object.

    Raises ConfigError (nothing applied) when the dispatch rule's rooms are not reserved
    or the inbound trunk admits anyone (no allowed addresses, no credentials).
    """
    problems = [
        dispatch_rule_room_problem(sip_file.dispatch_rule) if sip_file.dispatch_rule else None,
        inbound_trunk_access_problem(sip_file.inbound_trunk) if sip_file.inbound_trunk else None,
    ]
    for problem in problems:
        if problem is not None:
            field, reason = problem
            raise ConfigError(f"{sip_file.path}: field '{field}': {reason}")
    results: list[ApplyResult] = []
    inbound_id = ""
    if sip_file.inbound_trunk is not None:
        result = await _apply_inbound(client, sip_file.inbound_trunk)
        inbound_id = result.id
        results.append(result)
    if sip_file.outbound_trunk is not None:
        results.append(await _apply_outbound(client, sip_file.outbound_trunk))
    if sip_file.dispatch_rule is not None:
        rule = api.SIPDispatchRuleInfo()
        rule.CopyFrom(sip_file.dispatch_rule)
        if inbound_id:
            rule.ClearField("trunk_ids")
            rule.trunk_ids.append(inbound_id)
        results.append(await _apply_rule(client, rule))
    for result in results:
        logger.info(
            "sip object applied",
            extra={"kind": result.kind, "object_name": result.name, "outcome": result.outcome},
        )
    return results


async def apply(
    path: str | os.PathLike[str],
    *,
    client: api.LiveKitAPI | None = None,
    env: Mapping[str, str] | None = None,
) -> list[ApplyResult]:
    """Load ``path`` (placeholders from ``env``, default ``os.environ``) and apply it.

    ``client`` defaults to the process's shared server API client
    (:func:`~omnivoice_rtc.livekit.rooms.lease_room_control`) for ``LIVEKIT_URL``,
    ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET`` in ``env``.
    """
    sip_file = load_sip_file(path, env=env)
    async with _client(client, env) as lk:
        return await apply_file(sip_file, client=lk)


async def list_objects(
    *, client: api.LiveKitAPI | None = None, env: Mapping[str, str] | None = None
) -> list[SIPObject]:
    """Every inbound trunk, outbound trunk and dispatch rule on the server."""
    async with _client(client, env) as lk:
        inbound = await lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())
        outbound = await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
        rules = await lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())
    objects = [
        SIPObject(kind="inbound_trunk", id=t.sip_trunk_id, name=t.name, numbers=tuple(t.numbers))
        for t in inbound.items
    ]
    objects += [
        SIPObject(
            kind="outbound_trunk",
            id=t.sip_trunk_id,
            name=t.name,
            numbers=tuple(t.numbers),
            detail=f"-> {t.address}",
        )
        for t in outbound.items
    ]
    objects += [
        SIPObject(
            kind="dispatch_rule",
            id=r.sip_dispatch_rule_id,
            name=r.name,
            numbers=tuple(r.inbound_numbers),
            detail=f"trunks={','.join(r.trunk_ids) or '*'}",
        )
        for r in rules.items
    ]
    return objects


async def delete(
    name: str | None,
    *,
    client: api.LiveKitAPI | None = None,
    env: Mapping[str, str] | None = None,
) -> list[ApplyResult]:
    """Delete every object named ``name`` (``None``: every trunk and rule on the server).

    Dispatch rules go first so no rule is left pointing at a deleted trunk. Raises
    ValueError when ``name`` is given and nothing carries it.
    """
    async with _client(client, env) as lk:
        objects = await list_objects(client=lk)
        chosen = [o for o in objects if name is None or o.name == name]
        if name is not None and not chosen:
            raise ValueError(f"no trunk or dispatch rule is named {name!r}")
        chosen.sort(key=lambda o: o.kind != "dispatch_rule")
        results: list[ApplyResult] = []
        for obj in chosen:
            if obj.kind == "dispatch_rule":
                await lk.sip.delete_dispatch_rule(
                    api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=obj.id)
                )
            else:
                await lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=obj.id))
            results.append(ApplyResult(kind=obj.kind, name=obj.name, id=obj.id, outcome="deleted"))
    return results
