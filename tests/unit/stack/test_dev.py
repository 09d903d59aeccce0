"""The ``omnivoice-rtc dev`` plan: order, env, ports, optional parts, LiveKit Cloud."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omnivoice_rtc.settings import Settings
from omnivoice_rtc.stack import HttpCheck, LogCheck, ProcessSpec, StackExtension
from omnivoice_rtc.stack import dev as dev_module
from omnivoice_rtc.stack.dev import DEV_GREETING, DevOptions, build_dev_plan
from omnivoice_rtc.stack.livekit_server import PROJECT_ROOT, livekit_server_spec

pytestmark = pytest.mark.unit

KEY, SECRET = "APIdev", "dev-secret-long-enough-for-hs256-signing!"
LOCAL = {"LIVEKIT_API_KEY": KEY, "LIVEKIT_API_SECRET": SECRET}
NOTHING_ELSE = DevOptions(agent=False, web=False, sip=False)


def names(specs: tuple[ProcessSpec, ...]) -> list[str]:
    return [spec.name for spec in specs]


SIP_CALLS: list[str | None] = []


def fake_sip(settings: Settings, *, livekit_url: str | None = None) -> StackExtension:
    SIP_CALLS.append(livekit_url)

    def spec(name: str) -> ProcessSpec:
        return ProcessSpec(name=name, argv=("true",))

    return StackExtension(
        before_livekit=(spec("redis"),),
        after_livekit=(spec("livekit-sip"),),
        redis_host="127.0.0.1:6390",
        urls={"SIP": "sip:127.0.0.1:5060"},
    )


def test_livekit_server_gets_ports_keys_via_env_and_loopback_bind() -> None:
    plan = build_dev_plan(
        Settings.from_env(LOCAL),
        DevOptions(livekit_port=17880, rtc_tcp_port=17881, rtc_udp_port=17882, **_off()),
    )
    (server,) = plan.specs
    argv = list(server.argv)
    assert server.name == "livekit-server"
    assert argv[argv.index("--port") + 1] == "17880"
    assert argv[argv.index("--rtc.tcp_port") + 1] == "17881"
    assert argv[argv.index("--udp-port") + 1] == "17882"
    assert argv[argv.index("--bind") + 1] == "127.0.0.1"
    assert argv[argv.index("--config") + 1] == str(PROJECT_ROOT / "livekit.yaml")
    assert "--redis-host" not in argv
    assert SECRET not in " ".join(argv)
    assert server.env == {"LIVEKIT_KEYS": f"{KEY}: {SECRET}"}
    assert server.health == HttpCheck(url="http://127.0.0.1:17880/")
    assert [(p.protocol, p.port) for p in server.ports] == [
        ("tcp", 17880),
        ("tcp", 17881),
        ("udp", 17882),
    ]
    assert plan.urls["LiveKit"] == "ws://127.0.0.1:17880"


def _off() -> dict[str, bool]:
    return {"agent": False, "web": False, "sip": False}


def test_default_port_comes_from_livekit_url() -> None:
    plan = build_dev_plan(
        Settings.from_env({**LOCAL, "LIVEKIT_URL": "ws://localhost:9880"}), NOTHING_ELSE
    )
    assert plan.urls["LiveKit"] == "ws://127.0.0.1:9880"


def test_full_plan_order_and_child_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dev_module, "_load_sip_specs", lambda: fake_sip)
    settings = Settings.from_env(
        {**LOCAL, "OMNIVOICE_AGENT_NAME": "my-agent", "OMNIVOICE_WORKER_HTTP_PORT": "18081"}
    )
    SIP_CALLS.clear()
    plan = build_dev_plan(settings, DevOptions(livekit_port=17880, web_port=18080))
    assert SIP_CALLS == ["ws://127.0.0.1:17880"]  # livekit-sip follows the moved server
    expected = ["redis", "livekit-server", "agent", "web", "livekit-sip"]
    if not (PROJECT_ROOT / "agents" / "worker.py").is_file():
        expected.remove("agent")
    if not (PROJECT_ROOT / "omnivoice_rtc" / "web" / "__main__.py").is_file():
        expected.remove("web")
    assert names(plan.specs) == expected
    server = plan.specs[1]
    assert list(server.argv)[list(server.argv).index("--redis-host") + 1] == "127.0.0.1:6390"
    assert plan.urls["SIP"] == "sip:127.0.0.1:5060"
    for spec in plan.specs:
        if spec.name in ("agent", "web"):
            assert spec.env["LIVEKIT_URL"] == "ws://127.0.0.1:17880"
            assert spec.env["LIVEKIT_API_KEY"] == KEY
            assert spec.env["LIVEKIT_API_SECRET"] == SECRET
            assert spec.env["OMNIVOICE_AGENT_NAME"] == "my-agent"
        if spec.name == "agent":
            assert spec.argv[1:] == (str(PROJECT_ROOT / "agents" / "worker.py"), "start")
            assert spec.health == LogCheck(pattern=r"registered worker")
            assert spec.env["OMNIVOICE_WORKER_LOAD_THRESHOLD"] == "100"
            assert [(p.protocol, p.port) for p in spec.ports] == [("tcp", 18081)]
        if spec.name == "web":
            # livekit-sip runs: the web server serves the SIP calls (webhook-driven gateway)
            assert spec.argv[1:] == (
                "-m", "omnivoice_rtc.web", "--host", "127.0.0.1",
                "--routes", dev_module.SIP_ROUTES, "--port", "18080",
            )  # fmt: skip
            assert spec.env["OMNIVOICE_DRAIN_S"] == "10.0"  # dev default: Ctrl-C stays quick
            assert spec.health == HttpCheck(url="http://127.0.0.1:18080/healthz")


def test_disabled_parts_are_left_out_with_a_note() -> None:
    plan = build_dev_plan(Settings.from_env(LOCAL), NOTHING_ELSE)
    assert names(plan.specs) == ["livekit-server"]
    assert "agent worker: disabled (--no-agent)" in plan.notes
    assert "web server: disabled (--no-web)" in plan.notes


def test_missing_sip_module_is_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dev_module, "_load_sip_specs", lambda: None)
    plan = build_dev_plan(Settings.from_env(LOCAL), DevOptions(agent=False, web=False))
    assert names(plan.specs) == ["livekit-server"]
    assert "SIP: omnivoice_rtc.sip.processes not present; not started" in plan.notes


def test_remote_livekit_url_starts_no_server() -> None:
    settings = Settings.from_env({**LOCAL, "LIVEKIT_URL": "wss://my-project.livekit.cloud"})
    plan = build_dev_plan(settings, NOTHING_ELSE)
    assert "livekit-server" not in names(plan.specs)
    assert plan.urls["LiveKit"] == "wss://my-project.livekit.cloud"
    assert any("no server started" in note for note in plan.notes)


def test_livekit_server_spec_rejects_bad_keys_and_adds_redis() -> None:
    with pytest.raises(ValueError, match=r"^keys: must hold at least one API key$"):
        livekit_server_spec(keys={}, binary="/bin/true")
    with pytest.raises(ValueError, match=r"^keys: invalid API key/secret pair for key 'a:b'$"):
        livekit_server_spec(keys={"a:b": "s"}, binary="/bin/true")
    spec = livekit_server_spec(binary="/bin/true", redis_host="127.0.0.1:6379")
    assert spec.argv[-2:] == ("--redis-host", "127.0.0.1:6379")
    assert spec.env == {"LIVEKIT_KEYS": "devkey: secret"}


def test_carrier_routes_are_served_when_a_webhook_key_is_set() -> None:
    if not (PROJECT_ROOT / "omnivoice_rtc" / "web" / "__main__.py").is_file():
        pytest.fail("web server module missing")
    settings = Settings.from_env(LOCAL)
    options = DevOptions(web_port=18080, agent=False, sip=False)
    off = build_dev_plan(settings, options)
    web = next(s for s in off.specs if s.name == "web")
    assert "--routes" not in web.argv
    assert (
        "carrier routes: off (set TWILIO_AUTH_TOKEN, TELNYX_PUBLIC_KEY, VONAGE_SIGNATURE_SECRET, "
        "PLIVO_AUTH_TOKEN or EXOTEL_STREAM_PASSWORD to answer carrier media streams)"
    ) in off.notes
    plan = build_dev_plan(Settings.from_env({**LOCAL, "TWILIO_AUTH_TOKEN": "token"}), options)
    web = next(s for s in plan.specs if s.name == "web")
    assert web.argv[web.argv.index("--routes") + 1] == dev_module.CARRIER_ROUTES
    assert plan.urls["twilio answer webhook"] == "http://127.0.0.1:18080/carriers/twilio/answer"
    # every registered carrier counts
    exotel = {"EXOTEL_STREAM_USER": "exo", "EXOTEL_STREAM_PASSWORD": "pw"}
    plan = build_dev_plan(Settings.from_env({**LOCAL, **exotel}), options)
    assert plan.urls["exotel answer webhook"] == "http://127.0.0.1:18080/carriers/exotel/answer"


def test_livekit_server_posts_its_webhooks_to_the_web_server() -> None:
    """The call ledger's closer: livekit-server's webhooks go to /livekit/webhook,
    signed with the stack's key (the config body names the key, never the secret)."""
    plan = build_dev_plan(
        Settings.from_env(LOCAL),
        DevOptions(livekit_port=17880, web_port=18080, agent=False, web=True, sip=False),
    )
    server = next(s for s in plan.specs if s.name == "livekit-server")
    argv = list(server.argv)
    assert "--config" not in argv
    body = argv[argv.index("--config-body") + 1]
    assert body.startswith((PROJECT_ROOT / "livekit.yaml").read_text())
    assert (
        f'webhook:\n  api_key: "{KEY}"\n  urls:\n    - "http://127.0.0.1:18080/livekit/webhook"\n'
        in body
    )
    assert SECRET not in " ".join(argv)
    assert plan.urls["Call history"] == "http://127.0.0.1:18080/calls"


def test_your_agent_reaches_the_worker_with_the_current_directory_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OMNIVOICE_AGENT=myapp.agent:build make dev: the worker runs in the project root, so
    the directory dev was started in goes on its PYTHONPATH; a relative config file is
    made absolute."""
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        {
            **LOCAL,
            "OMNIVOICE_AGENT": "myapp.agent:build",
            "OMNIVOICE_AGENT_CONFIG": "agent.yaml",
            "PYTHONPATH": "/opt/lib",
        }
    )
    plan = build_dev_plan(settings, DevOptions(web=False, sip=False))
    (agent,) = [s for s in plan.specs if s.name == "agent"]
    assert agent.env["OMNIVOICE_AGENT"] == "myapp.agent:build"
    assert agent.env["PYTHONPATH"] == os.pathsep.join([str(tmp_path), "/opt/lib"])
    assert agent.env["OMNIVOICE_AGENT_CONFIG"] == str(tmp_path / "agent.yaml")
    assert plan.urls["Your agent"] == "myapp.agent:build"
    assert "OMNIVOICE_GREETING" not in agent.env  # your agent decides its greeting
    without = build_dev_plan(Settings.from_env(LOCAL), DevOptions(web=False, sip=False))
    (plain,) = [s for s in without.specs if s.name == "agent"]
    assert "OMNIVOICE_AGENT" not in plain.env
    assert "PYTHONPATH" not in plain.env
    assert plain.env["OMNIVOICE_GREETING"] == DEV_GREETING  # the built-in agent speaks first
    quiet = Settings.from_env({**LOCAL, "OMNIVOICE_GREETING": ""})
    (silent,) = [
        s
        for s in build_dev_plan(quiet, DevOptions(web=False, sip=False)).specs
        if s.name == "agent"
    ]
    assert "OMNIVOICE_GREETING" not in silent.env  # the variable, empty, reaches it as set
