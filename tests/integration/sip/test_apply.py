"""`sip apply` against a real livekit-server with Redis: create, unchanged, update in place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc.sip.provisioning import apply, delete, list_objects
from tests.conftest import ROOT
from tests.plugins.sip_stack import SIPStack
from tests.unit.sip.test_sipfile import APPLY_ENV

pytestmark = pytest.mark.integration


@pytest.fixture
async def clean(sip_api: api.LiveKitAPI) -> api.LiveKitAPI:
    await delete(None, client=sip_api)
    return sip_api


async def test_apply_twice_is_unchanged_and_edit_updates_in_place(
    clean: api.LiveKitAPI, tmp_path: Path
) -> None:
    path = ROOT / "sip" / "twilio.json"
    first = await apply(path, client=clean, env=APPLY_ENV)
    assert [(r.kind, r.name, r.outcome) for r in first] == [
        ("inbound_trunk", "twilio-inbound", "created"),
        ("outbound_trunk", "twilio-outbound", "created"),
        ("dispatch_rule", "twilio-dispatch", "created"),
    ]
    second = await apply(path, client=clean, env=APPLY_ENV)
    assert [r.outcome for r in second] == ["unchanged"] * 3
    assert [r.id for r in second] == [r.id for r in first]

    # An edited file (here through its env) updates the changed objects in place.
    edited_env = {
        **APPLY_ENV,
        "TWILIO_SIP_ALLOWED_ADDRESSES": "54.172.60.0/30,54.244.51.0/30",
        "OMNIVOICE_AGENT_NAME": "other-agent",
    }
    third = await apply(path, client=clean, env=edited_env)
    assert [r.outcome for r in third] == ["updated", "unchanged", "updated"]
    assert [r.id for r in third] == [r.id for r in first]
    inbound = await clean.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())
    assert [list(t.allowed_addresses) for t in inbound.items] == [
        ["54.172.60.0/30", "54.244.51.0/30"]
    ]
    rules = await clean.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())
    assert len(rules.items) == 1
    assert list(rules.items[0].trunk_ids) == [first[0].id]
    assert rules.items[0].room_config.agents[0].agent_name == "other-agent"

    # A file edit on disk: a new caller-ID number for the outbound trunk.
    data = json.loads(path.read_text(encoding="utf-8"))
    data["outbound_trunk"]["numbers"] = ["+15105559999"]
    edited = tmp_path / "twilio.json"
    edited.write_text(json.dumps(data), encoding="utf-8")
    fourth = await apply(edited, client=clean, env=edited_env)
    assert [r.outcome for r in fourth] == ["unchanged", "updated", "unchanged"]
    outbound = await clean.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
    assert [list(t.numbers) for t in outbound.items] == [["+15105559999"]]
    assert outbound.items[0].auth_password == "twpass"


@pytest.mark.parametrize("carrier", ["telnyx", "vonage", "plivo"])
async def test_every_carrier_file_applies(clean: api.LiveKitAPI, carrier: str) -> None:
    path = ROOT / "sip" / f"{carrier}.json"
    assert [r.outcome for r in await apply(path, client=clean, env=APPLY_ENV)] == ["created"] * 3
    assert [r.outcome for r in await apply(path, client=clean, env=APPLY_ENV)] == ["unchanged"] * 3
    names = sorted(o.name for o in await list_objects(client=clean))
    assert names == [f"{carrier}-dispatch", f"{carrier}-inbound", f"{carrier}-outbound"]


async def test_delete_by_name_and_unknown_name(clean: api.LiveKitAPI) -> None:
    await apply(ROOT / "sip" / "vonage.json", client=clean, env=APPLY_ENV)
    deleted = await delete("vonage-dispatch", client=clean)
    assert [(r.kind, r.outcome) for r in deleted] == [("dispatch_rule", "deleted")]
    with pytest.raises(ValueError, match=r"^no trunk or dispatch rule is named 'vonage-dispatch'$"):
        await delete("vonage-dispatch", client=clean)
    remaining = sorted(o.name for o in await list_objects(client=clean))
    assert remaining == ["vonage-inbound", "vonage-outbound"]


async def test_cli_apply_list_delete(clean: api.LiveKitAPI, sip_stack: SIPStack) -> None:
    env = {**os.environ, **sip_stack.livekit.env(), **APPLY_ENV}

    def cli(*args: str, without: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "omnivoice_rtc.cli", "sip", *args],
            env={k: v for k, v in env.items() if k != without},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    first = cli("apply", "sip/plivo.json")
    assert first.returncode == 0, first.stderr
    assert [line.rsplit(": ", 1)[1] for line in first.stdout.splitlines()] == ["created"] * 3
    second = cli("apply", "sip/plivo.json")
    assert [line.rsplit(": ", 1)[1] for line in second.stdout.splitlines()] == ["unchanged"] * 3
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert "plivo-outbound" in listed.stdout
    assert "-> 21784177241578.zt.plivo.com" in listed.stdout

    bad = cli("apply", "sip/twilio.json", without="TWILIO_SIP_NUMBER")
    assert bad.returncode == 2
    assert bad.stderr == (
        "omnivoice-rtc sip apply: sip/twilio.json: field 'inbound_trunk.numbers[0]': "
        "environment variable TWILIO_SIP_NUMBER is not set\n"
    )
    gone = cli("delete", "--all")
    assert gone.returncode == 0, gone.stderr
    assert len(gone.stdout.splitlines()) == 3
    assert await list_objects(client=clean) == []


async def test_cli_apply_refuses_a_rule_browsers_could_join(
    clean: api.LiveKitAPI, sip_stack: SIPStack, tmp_path: Path
) -> None:
    data = json.loads((ROOT / "sip" / "twilio.json").read_text(encoding="utf-8"))
    data["dispatch_rule"]["rule"]["dispatch_rule_individual"]["room_prefix"] = "twilio-call"
    path = tmp_path / "old-twilio.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    def cli_apply() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "omnivoice_rtc.cli", "sip", "apply", str(path)],
            env={**os.environ, **sip_stack.livekit.env(), **APPLY_ENV},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    result = cli_apply()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"omnivoice-rtc sip apply: {path}: field "
        "'dispatch_rule.rule.dispatch_rule_individual.room_prefix': rooms of phone calls must "
        "start with 'call-' or 'sip-' so that browsers cannot join them "
        "(e.g. 'sip-<carrier>-'), got 'twilio-call'\n"
    )
    assert await list_objects(client=clean) == []  # nothing half-applied


async def test_cli_apply_refuses_an_inbound_trunk_anyone_may_call(
    clean: api.LiveKitAPI, sip_stack: SIPStack
) -> None:
    open_env = {k: v for k, v in APPLY_ENV.items() if k != "PLIVO_SIP_ALLOWED_ADDRESSES"}

    def cli_apply() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "omnivoice_rtc.cli", "sip", "apply", "sip/plivo.json"],
            env={**os.environ, **sip_stack.livekit.env(), **open_env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    result = cli_apply()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "omnivoice-rtc sip apply: sip/plivo.json: field 'inbound_trunk.allowed_addresses': "
        "an inbound trunk needs allowed_addresses"
    )
    assert await list_objects(client=clean) == []  # nothing half-applied


async def test_apply_moves_an_old_rule_to_the_reserved_prefix_in_place(
    clean: api.LiveKitAPI,
) -> None:
    old = api.SIPDispatchRuleInfo(
        name="twilio-dispatch",
        rule=api.SIPDispatchRule(
            dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="twilio-call")
        ),
    )
    created = await clean.sip.create_dispatch_rule(
        api.CreateSIPDispatchRuleRequest(dispatch_rule=old)
    )
    results = await apply(ROOT / "sip" / "twilio.json", client=clean, env=APPLY_ENV)
    assert [(r.kind, r.outcome) for r in results] == [
        ("inbound_trunk", "created"),
        ("outbound_trunk", "created"),
        ("dispatch_rule", "updated"),
    ]
    assert results[2].id == created.sip_dispatch_rule_id
    rules = await clean.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())
    assert [r.rule.dispatch_rule_individual.room_prefix for r in rules.items] == ["sip-twilio-"]


async def test_apply_without_a_client_uses_the_servers_in_env(
    clean: api.LiveKitAPI, sip_stack: SIPStack
) -> None:
    env = {**sip_stack.livekit.env(), **APPLY_ENV}
    results = await apply(ROOT / "sip" / "vonage.json", env=env)
    assert [r.outcome for r in results] == ["created"] * 3
    names = sorted(o.name for o in await list_objects(env=env))
    assert names == ["vonage-dispatch", "vonage-inbound", "vonage-outbound"]
    assert [r.outcome for r in await delete(None, env=env)] == ["deleted"] * 3
    assert await list_objects(client=clean) == []
