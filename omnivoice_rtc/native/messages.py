"""The typed messages spoken with ``omnivoice-media``, one frozen dataclass per kind.

aiortc style: ``message.encode()`` gives the whole framed message (:mod:`.wire`),
``Type.from_payload(payload)`` reads one back (``from_payload(m.to_payload()) == m``),
:func:`decode` picks the type by kind and :func:`receive` reads the next message off a
stream. Decoding raises ValueError with the message and field at fault
(``"dtmf message: digit must be a string, got int"``). JSON is compact, with the keys in
the order the other side writes them (the Go process writes its maps with sorted keys).

To the media process (upper case): :class:`Join`, :class:`CallerAudio`,
:class:`ClearAudio`, :class:`SendDtmf`, :class:`SendData`. From it (lower case):
:class:`Joined`, :class:`ErrorNotice`, :class:`AgentAudio`, :class:`Participant`,
:class:`ParticipantLeft`, :class:`AttributesChanged`, :class:`DtmfReceived`,
:class:`DataReceived`, :class:`Disconnected`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, TypeAlias

from omnivoice_rtc.native._json_body import JsonBody, dump_json
from omnivoice_rtc.native.wire import (
    MessageKind,
    encode_message,
    join_header,
    read_message,
    split_raw,
)

__all__ = [
    "AgentAudio",
    "AttributesChanged",
    "CallerAudio",
    "ClearAudio",
    "DataReceived",
    "Disconnected",
    "DtmfReceived",
    "ErrorNotice",
    "Join",
    "Joined",
    "Participant",
    "ParticipantLeft",
    "SendData",
    "SendDtmf",
    "WireMessage",
    "decode",
    "receive",
]


def _split(name: str, payload: bytes) -> tuple[JsonBody, bytes]:
    """A ``header | body`` payload (:func:`join_header`): the header read as JSON."""
    try:
        header, body = split_raw(payload)
    except ValueError as exc:
        raise ValueError(f"{name} message: {exc}") from None
    return JsonBody.of(name, header), body


def _mapping() -> dict[str, str]:
    return {}


class _Message:
    """What every typed message has: its ``KIND`` and framing."""

    __slots__ = ()
    KIND: ClassVar[MessageKind]

    def to_payload(self) -> bytes:
        raise NotImplementedError

    def encode(self) -> bytes:
        """The whole framed message (kind, length, payload)."""
        return encode_message(self.KIND, self.to_payload())


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(_Message):
    """First message of a connection: join the room at ``url`` with ``token``; caller audio
    at ``publish_rate_hz``, agent audio at ``subscribe_rate_hz`` (Hz) in ``frame_ms`` (ms)
    frames; Opus encoder complexity 0-10 for caller audio not at 8 kHz."""

    KIND: ClassVar[MessageKind] = MessageKind.JOIN
    url: str
    token: str
    publish_rate_hz: int
    subscribe_rate_hz: int
    frame_ms: int
    opus_complexity: int

    def to_payload(self) -> bytes:
        return dump_json(
            {
                "url": self.url,
                "token": self.token,
                "publish_rate_hz": self.publish_rate_hz,
                "subscribe_rate_hz": self.subscribe_rate_hz,
                "frame_ms": self.frame_ms,
                "opus_complexity": self.opus_complexity,
            }
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> Join:
        body = JsonBody.of("join", payload)
        return cls(
            url=body.text("url"),
            token=body.text("token"),
            publish_rate_hz=body.integer("publish_rate_hz"),
            subscribe_rate_hz=body.integer("subscribe_rate_hz"),
            frame_ms=body.integer("frame_ms"),
            opus_complexity=body.integer("opus_complexity"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerAudio(_Message):
    """Caller audio: PCM16 LE mono at ``publish_rate_hz``."""

    KIND: ClassVar[MessageKind] = MessageKind.CALLER_AUDIO
    pcm: bytes

    def to_payload(self) -> bytes:
        return self.pcm

    @classmethod
    def from_payload(cls, payload: bytes) -> CallerAudio:
        return cls(pcm=bytes(payload))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearAudio(_Message):
    """Drop caller audio not yet sent (no payload)."""

    KIND: ClassVar[MessageKind] = MessageKind.CLEAR_AUDIO

    def to_payload(self) -> bytes:
        return b""

    @classmethod
    def from_payload(cls, payload: bytes) -> ClearAudio:
        if payload:
            raise ValueError(f"clear_audio message must be empty, got {len(payload)} bytes")
        return cls()


@dataclass(frozen=True, slots=True, kw_only=True)
class SendDtmf(_Message):
    """Publish a caller keypress: RFC 4733 ``code`` and its ``digit``."""

    KIND: ClassVar[MessageKind] = MessageKind.SEND_DTMF
    code: int
    digit: str

    def to_payload(self) -> bytes:
        return dump_json({"code": self.code, "digit": self.digit})

    @classmethod
    def from_payload(cls, payload: bytes) -> SendDtmf:
        body = JsonBody.of("send_dtmf", payload)
        return cls(code=body.integer("code"), digit=body.text("digit"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SendData(_Message):
    """A reliable data packet on ``topic`` to ``destinations`` (identities; empty = all)."""

    KIND: ClassVar[MessageKind] = MessageKind.SEND_DATA
    topic: str
    destinations: tuple[str, ...] = ()
    payload: bytes = b""

    def to_payload(self) -> bytes:
        return join_header(
            {"topic": self.topic, "destinations": list(self.destinations)}, self.payload
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> SendData:
        header, body = _split("send_data", payload)
        return cls(
            topic=header.text("topic"), destinations=header.text_list("destinations"), payload=body
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Participant(_Message):
    """A remote participant joined (or was there when we joined): identity, kind (``agent``,
    ``standard``, ``sip``…) and attributes."""

    KIND: ClassVar[MessageKind] = MessageKind.PARTICIPANT
    identity: str
    kind: str
    attributes: Mapping[str, str] = field(default_factory=_mapping)

    def to_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "kind": self.kind, "attributes": dict(self.attributes)}

    def to_payload(self) -> bytes:
        return dump_json(self.to_dict())

    @classmethod
    def from_body(cls, body: JsonBody) -> Participant:
        return cls(
            identity=body.text("identity"),
            kind=body.text("kind"),
            attributes=body.text_map("attributes"),
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> Participant:
        return cls.from_body(JsonBody.of("participant", payload))


@dataclass(frozen=True, slots=True, kw_only=True)
class Joined(_Message):
    """The room is joined as ``identity``; the caller track's ``codec`` (``pcmu``/``opus``)
    and the ``participants`` already there."""

    KIND: ClassVar[MessageKind] = MessageKind.JOINED
    identity: str
    codec: str
    participants: tuple[Participant, ...] = ()

    def to_payload(self) -> bytes:
        return dump_json(
            {
                "identity": self.identity,
                "codec": self.codec,
                "participants": [p.to_dict() for p in self.participants],
            }
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> Joined:
        body = JsonBody.of("joined", payload)
        return cls(
            identity=body.text("identity"),
            codec=body.text("codec"),
            participants=tuple(Participant.from_body(p) for p in body.objects("participants")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorNotice(_Message):
    """The call failed (``error`` says why); the process closes the connection after it."""

    KIND: ClassVar[MessageKind] = MessageKind.ERROR
    error: str

    def to_payload(self) -> bytes:
        return dump_json({"error": self.error})

    @classmethod
    def from_payload(cls, payload: bytes) -> ErrorNotice:
        return cls(error=JsonBody.of("error", payload).text("error"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentAudio(_Message):
    """Agent audio: PCM16 LE mono at ``subscribe_rate_hz``, ``frame_ms`` long."""

    KIND: ClassVar[MessageKind] = MessageKind.AGENT_AUDIO
    pcm: bytes

    def to_payload(self) -> bytes:
        return self.pcm

    @classmethod
    def from_payload(cls, payload: bytes) -> AgentAudio:
        return cls(pcm=bytes(payload))


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipantLeft(_Message):
    """A remote participant left."""

    KIND: ClassVar[MessageKind] = MessageKind.PARTICIPANT_LEFT
    identity: str

    def to_payload(self) -> bytes:
        return dump_json({"identity": self.identity})

    @classmethod
    def from_payload(cls, payload: bytes) -> ParticipantLeft:
        return cls(identity=JsonBody.of("participant_left", payload).text("identity"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributesChanged(_Message):
    """A remote participant's attributes changed (``changed``: the new values)."""

    KIND: ClassVar[MessageKind] = MessageKind.ATTRIBUTES
    identity: str
    changed: Mapping[str, str] = field(default_factory=_mapping)

    def to_payload(self) -> bytes:
        return dump_json({"changed": dict(self.changed), "identity": self.identity})

    @classmethod
    def from_payload(cls, payload: bytes) -> AttributesChanged:
        body = JsonBody.of("attributes", payload)
        return cls(identity=body.text("identity"), changed=body.text_map("changed"))


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived(_Message):
    """A DTMF packet from ``identity`` (``""`` when the sender is unknown)."""

    KIND: ClassVar[MessageKind] = MessageKind.DTMF
    identity: str
    code: int
    digit: str

    def to_payload(self) -> bytes:
        return dump_json({"code": self.code, "digit": self.digit, "identity": self.identity})

    @classmethod
    def from_payload(cls, payload: bytes) -> DtmfReceived:
        body = JsonBody.of("dtmf", payload)
        return cls(
            identity=body.text("identity"), code=body.integer("code"), digit=body.text("digit")
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DataReceived(_Message):
    """A data packet from ``identity`` on ``topic``."""

    KIND: ClassVar[MessageKind] = MessageKind.DATA
    identity: str
    topic: str
    payload: bytes = b""

    def to_payload(self) -> bytes:
        return join_header({"identity": self.identity, "topic": self.topic}, self.payload)

    @classmethod
    def from_payload(cls, payload: bytes) -> DataReceived:
        header, body = _split("data", payload)
        return cls(identity=header.text("identity"), topic=header.text("topic"), payload=body)


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected(_Message):
    """The process's room connection ended (``reason`` from the SDK)."""

    KIND: ClassVar[MessageKind] = MessageKind.DISCONNECTED
    reason: str

    def to_payload(self) -> bytes:
        return dump_json({"reason": self.reason})

    @classmethod
    def from_payload(cls, payload: bytes) -> Disconnected:
        return cls(reason=JsonBody.of("disconnected", payload).text("reason"))


WireMessage: TypeAlias = (
    Join
    | CallerAudio
    | ClearAudio
    | SendDtmf
    | SendData
    | Joined
    | ErrorNotice
    | AgentAudio
    | Participant
    | ParticipantLeft
    | AttributesChanged
    | DtmfReceived
    | DataReceived
    | Disconnected
)

_TYPES: Final[dict[MessageKind, Any]] = {
    t.KIND: t
    for t in (
        Join,
        CallerAudio,
        ClearAudio,
        SendDtmf,
        SendData,
        Joined,
        ErrorNotice,
        AgentAudio,
        Participant,
        ParticipantLeft,
        AttributesChanged,
        DtmfReceived,
        DataReceived,
        Disconnected,
    )
}


def decode(kind: MessageKind, payload: bytes) -> WireMessage:
    """The typed message for one framed message's ``kind`` and ``payload``."""
    message: WireMessage = _TYPES[kind].from_payload(payload)
    return message


async def receive(reader: asyncio.StreamReader) -> WireMessage:
    """The next typed message; ``asyncio.IncompleteReadError`` at end of stream."""
    return decode(*await read_message(reader))
