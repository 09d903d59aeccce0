"""Field access helpers with the exact ValueError messages all codecs share.

Messages look like ``twilio: missing field 'start.callSid'`` or
``plivo: field 'media.chunk' must be an integer, got 'x'``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams.messages import Media


def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def req(carrier: str, obj: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    if key not in obj or obj[key] is None:
        raise ValueError(f"{carrier}: missing field {_path(prefix, key)!r}")
    return obj[key]


def req_str(carrier: str, obj: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = req(carrier, obj, key, prefix)
    if not isinstance(value, str):
        raise ValueError(
            f"{carrier}: field {_path(prefix, key)!r} must be a string, got {type(value).__name__}"
        )
    return value


def opt_str(carrier: str, obj: Mapping[str, Any], key: str, prefix: str = "") -> str | None:
    if obj.get(key) is None:
        return None
    return req_str(carrier, obj, key, prefix)


def req_obj(carrier: str, obj: Mapping[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
    value = req(carrier, obj, key, prefix)
    if not isinstance(value, dict):
        raise ValueError(
            f"{carrier}: field {_path(prefix, key)!r} must be an object, got {type(value).__name__}"
        )
    return value


def opt_int(carrier: str, obj: Mapping[str, Any], key: str, prefix: str = "") -> int | None:
    """An integer sent as a JSON number or a decimal string (Twilio/Telnyx)."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is int:  # exact type: excludes bool
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ValueError(f"{carrier}: field {_path(prefix, key)!r} must be an integer, got {value!r}")


def str_map(carrier: str, obj: Mapping[str, Any], key: str, prefix: str = "") -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{carrier}: field {_path(prefix, key)!r} must be an object of strings")
    return dict(value)


def str_tuple(carrier: str, obj: Mapping[str, Any], key: str, prefix: str = "") -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{carrier}: field {_path(prefix, key)!r} must be a list of strings")
    return tuple(value)


def extras(obj: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    skip = frozenset(known)
    if obj.keys() <= skip:  # the common case: nothing unmodelled
        return {}
    return {k: v for k, v in obj.items() if k not in skip}


def as_num_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``out[key]`` unless ``value`` is None (absent fields stay absent)."""
    if value is not None:
        out[key] = value


_ENCODINGS: dict[str, AudioEncoding] = {
    "audio/x-mulaw": AudioEncoding.MULAW,
    "audio/mulaw": AudioEncoding.MULAW,
    "pcmu": AudioEncoding.MULAW,
    "audio/x-alaw": AudioEncoding.ALAW,
    "pcma": AudioEncoding.ALAW,
    "audio/x-l16": AudioEncoding.PCM16,
    "audio/l16": AudioEncoding.PCM16,
}


def wire_format(
    carrier: str,
    encoding: str,
    sample_rate: int,
    *,
    where: str,
    l16: AudioEncoding = AudioEncoding.PCM16,
) -> AudioFormat:
    """Map a carrier encoding label (``audio/x-mulaw``, ``PCMU``, ``L16``…) to AudioFormat.

    ``l16`` chooses the byte order for L16 labels (RTP L16 is big-endian, RFC 3551).
    """
    key = encoding.strip().lower()
    found = _ENCODINGS.get(key)
    if key == "l16" or found is AudioEncoding.PCM16:
        found = l16
    if found is None:
        raise ValueError(f"{carrier}: unsupported {where} {encoding!r}")
    try:
        return AudioFormat(found, sample_rate)
    except ValueError as exc:
        raise ValueError(f"{carrier}: {where}: {exc}") from None


def parse_content_type(carrier: str, value: str, *, where: str) -> AudioFormat:
    """Parse ``audio/l16;rate=16000`` / ``audio/x-mulaw;rate=8000`` (rate defaults to 8000)."""
    parts = [p.strip() for p in value.split(";")]
    rate = 8000
    for part in parts[1:]:
        name, _, raw = part.partition("=")
        if name.strip().lower() == "rate":
            if not raw.strip().isdigit():
                raise ValueError(f"{carrier}: {where} has an invalid rate: {value!r}")
            rate = int(raw.strip())
    return wire_format(carrier, parts[0], rate, where=where)


_MISSING: Any = object()
_MEDIA_KEYS: frozenset[str] = frozenset(("track", "chunk", "timestamp", "payload"))


def _loose_int(value: Any) -> Any:
    """int for an int or a decimal string, None for None, ``_MISSING`` for anything else."""
    if value is None or type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    return _MISSING


def fast_media(
    data: dict[str, Any], seq_key: str, sid_key: str, extra_key: str = ""
) -> Media | None:
    """Fast path for the common, well-formed inbound ``media`` frame.

    Returns the :class:`Media` or None when anything is unusual; the caller then takes
    the validating path, which produces the exact error. ``seq_key``/``sid_key`` are the
    carrier's top-level keys; ``extra_key`` names one top-level key kept verbatim in
    ``extra`` (Plivo ``extra_headers``).
    """
    media = data.get("media")
    if type(media) is not dict or not media.keys() <= _MEDIA_KEYS:
        return None
    if not data.keys() <= {"event", seq_key, sid_key, "media", extra_key}:
        return None
    payload, sid, track = media.get("payload"), data.get(sid_key), media.get("track")
    if type(payload) is not str or (sid is not None and type(sid) is not str):
        return None
    if track is not None and type(track) is not str:
        return None
    seq = _loose_int(data.get(seq_key))
    chunk = _loose_int(media.get("chunk"))
    stamp = _loose_int(media.get("timestamp"))
    if _MISSING in (seq, chunk, stamp):
        return None
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    return Media(
        payload=audio,
        stream_id=sid,
        track=track,
        sequence_number=seq,
        chunk=chunk,
        timestamp_ms=stamp,
        extra={extra_key: data[extra_key]} if extra_key in data else {},
    )
