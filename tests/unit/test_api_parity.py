"""Every exported name of the Go `gateway` package has a Python counterpart.

The Go names are parsed from the Go documentation (tests/fixtures/seed/); the
counterparts come from docs/api-mapping.md and are resolved against the package.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

import omnivoice_rtc

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "fixtures" / "seed" / "gateway-v0.14.0.txt"
MAPPING = ROOT / "docs" / "api-mapping.md"


def go_exported_names(text: str) -> list[str]:
    """Types, struct fields, interface methods, methods, constructors, consts and vars."""
    names: list[str] = []
    current: str | None = None
    kind = ""
    for line in text.splitlines():
        if m := re.match(r"^type (\w+) (struct|interface|func|string|=)", line):
            current, kind = m.group(1), m.group(2)
            names.append(current)
            if kind not in ("struct", "interface"):
                current = None
            continue
        if line.startswith("}"):
            current = None
            continue
        if current and kind == "interface" and (m := re.match(r"^\t(\w+)\(", line)):
            names.append(f"{current}.{m.group(1)}")
        if current and kind == "struct" and (m := re.match(r"^\t([A-Z]\w*)\s+\S", line)):
            names.append(f"{current}.{m.group(1)}")
        if m := re.match(r"^func (New\w+)\(", line):
            names.append(m.group(1))
        if m := re.match(r"^func \(\w+ \*?(\w+)\) (\w+)\(", line):
            names.append(f"{m.group(1)}.{m.group(2)}")
        if m := re.match(r"^\t(\w+)\s+(EventType|ProviderName|PipelineMode) = ", line):
            names.append(m.group(1))
        if m := re.match(r"^\t(AudioFormat\w+) = format", line):
            names.append(m.group(1))
    return list(dict.fromkeys(names))


def mapping_table() -> dict[str, str]:
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", MAPPING.read_text(), flags=re.M)
    return dict(rows)


def resolve(path: str) -> Any:
    """Resolve ``A.b.c`` against omnivoice_rtc, descending into dataclass fields."""
    head, *rest = path.split(".")
    obj: Any = getattr(omnivoice_rtc, head)
    for part in rest:
        if isinstance(obj, type) and dataclasses.is_dataclass(obj):
            fields = {f.name: f for f in dataclasses.fields(obj)}
            if part in fields:
                f = fields[part]
                if f.default_factory is not dataclasses.MISSING:
                    produced = f.default_factory()
                    obj = type(produced) if dataclasses.is_dataclass(produced) else f
                else:
                    obj = f
                continue
        if isinstance(obj, dataclasses.Field):
            raise AttributeError(f"{path}: {obj.name} is a leaf field")
        obj = getattr(obj, part)
    return obj


def test_seed_parses_to_the_full_go_surface() -> None:
    names = go_exported_names(SEED.read_text())
    # 14 event types, 5 providers, 2 pipeline modes, 5 format vars, all types and methods.
    assert len([n for n in names if re.match(r"Event[A-Z]", n) and n != "EventType"]) == 14
    assert {
        "Gateway.MakeCall",
        "WebRTCSession.SendAudio",
        "NewRealtimeBridgeForTwilioGemini",
    } <= set(names)
    assert len(names) == 205


def test_every_go_name_has_a_mapping_row() -> None:
    missing = [n for n in go_exported_names(SEED.read_text()) if n not in mapping_table()]
    assert missing == []


@pytest.mark.parametrize("go_name", go_exported_names(SEED.read_text()))
def test_every_go_name_resolves_in_python(go_name: str) -> None:
    python_path = mapping_table()[go_name]
    resolve(python_path)


def test_event_type_values_match_go() -> None:
    text = SEED.read_text()
    go_values = dict(re.findall(r'^\t(Event\w+)\s+EventType = "(\w+)"', text, flags=re.M))
    assert len(go_values) == 14
    table = mapping_table()
    for go_name, value in go_values.items():
        assert resolve(table[go_name]).value == value


def test_all_is_sorted_and_complete() -> None:
    exported = omnivoice_rtc.__all__

    def isort_style(name: str) -> tuple[int, list[tuple[int, str]]]:
        # ruff RUF022's order: CONSTANTS, then Classes, then the rest; digits sort naturally.
        group = 0 if name.isupper() else 1 if name[0].isupper() else 2
        parts = [(int(t), "") if t.isdigit() else (-1, t) for t in re.split(r"(\d+)", name) if t]
        return (group, parts)

    assert list(exported) == sorted(exported, key=isort_style)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(omnivoice_rtc, name), name
    public = {n for n in vars(omnivoice_rtc) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(omnivoice_rtc, n)).__name__ == "module"}
    assert public - modules - set(exported) == set()


@pytest.mark.parametrize(
    ("implementation", "protocol"),
    [
        ("AudioConverter", "AudioConverter"),
        ("LiveKitGateway", "WebRTCGateway"),
        ("LiveKitSession", "WebRTCSession"),
        ("MediaStreamGateway", "Gateway"),
        ("PstnSession", "Session"),
        ("SIPGateway", "Gateway"),
        ("SIPSession", "Session"),
        ("LLMProviderAdapter", None),
    ],
)
def test_implementations_cover_their_go_interface(
    implementation: str, protocol: str | None
) -> None:
    """Each concrete class has every member of the Go interface it implements."""
    from omnivoice_rtc import types

    cls = getattr(omnivoice_rtc, implementation)
    assert isinstance(cls, type)
    if protocol is None:
        return
    proto = getattr(types, protocol)
    members = {
        name
        for name in vars(proto)
        if (not name.startswith("_") and callable(getattr(proto, name, None)))
        or isinstance(vars(proto)[name], property)
    }
    assert members, protocol
    missing = sorted(m for m in members if not hasattr(cls, m))
    assert missing == []
