"""SlidingWindowLimiter and the /api/token rate limit (429 + Retry-After)."""

from __future__ import annotations

import pytest

from omnivoice_rtc.web.ratelimit import SlidingWindowLimiter
from omnivoice_rtc.web.token_endpoint import RATE_WINDOW_S, TOKENS_PER_ADDRESS

from .conftest import ClientFactory, make_settings

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_key_and_window_slides() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit=3, window_s=10.0, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit("a") == pytest.approx(10.0)
    assert limiter.hit("b") == 0.0  # other keys are independent
    clock.now += 4.0
    assert limiter.hit("a") == pytest.approx(6.0)
    clock.now += 6.0  # the first three hits leave the window
    assert limiter.hit("a") == 0.0


def test_refused_hits_do_not_extend_the_wait() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit=1, window_s=5.0, clock=clock)
    assert limiter.hit("a") == 0.0
    for _ in range(10):
        assert limiter.hit("a") > 0
    clock.now += 5.0
    assert limiter.hit("a") == 0.0


def test_tracked_keys_are_bounded() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit=1, window_s=60.0, max_keys=2, clock=clock)
    assert limiter.hit("a") == 0.0
    assert limiter.hit("b") == 0.0
    assert limiter.hit("c") == 0.0  # evicts "a", the least recently seen
    assert limiter.hit("a") == 0.0
    assert limiter.hit("c") > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0, "window_s": 1.0}, "limit: must be at least 1, got 0"),
        ({"limit": 1, "window_s": 0.0}, "window_s: must be positive, got 0.0"),
        ({"limit": 1, "window_s": 1.0, "max_keys": 0}, "max_keys: must be at least 1, got 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlidingWindowLimiter(**kwargs)  # type: ignore[arg-type]  # reason: ints and floats mixed on purpose


async def test_token_endpoint_answers_429_past_the_limit(make_client: ClientFactory) -> None:
    client = await make_client(make_settings(token_key="k"))
    for _ in range(TOKENS_PER_ADDRESS - 1):
        assert (await client.post("/api/token", headers={"X-Omnivoice-Key": "k"})).status == 200
    assert (await client.post("/api/token")).status == 401  # refused requests count too
    response = await client.post("/api/token", headers={"X-Omnivoice-Key": "k"})
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= RATE_WINDOW_S
    assert (await response.json())["error"] == (
        f"too many token requests: at most {TOKENS_PER_ADDRESS} per {RATE_WINDOW_S:g} s per address"
    )
    metrics = await (await client.get("/metrics", headers={"X-Omnivoice-Key": "k"})).text()
    assert 'omnivoice_tokens_refused_total{reason="rate_limited"} 1.0' in metrics
