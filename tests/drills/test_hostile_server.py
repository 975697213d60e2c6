"""A hostile or broken Massive server, served over loopback HTTP: it cannot send the API key to a
host of its choosing, hold a request past its total deadline, or make the client hold more than the
size cap in memory. Each drill measures what crossed the wire with the servers themselves.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from providers.base import MalformedResponse, ProviderError, ResponseTooLarge, TransientProviderError
from providers.http import ApiClient, HttpSettings
from providers.polygon import PolygonProvider
from tests.drills.faulty_massive import FaultyMassive, Hostile, LoopbackRecorder, gzip_bomb
from tests.fakes.massive import ChainSpec, _encode_cursor

NOW = datetime(2025, 12, 23, 22, 0, tzinfo=UTC)
CURRENT = date(2025, 12, 23)
PAST = date(2025, 12, 15)
KEY = "drill-hostile-server-key-3f8a61"
SNAPSHOT = "/v3/snapshot/options/AAPL"
SETTINGS = HttpSettings(
    requests_per_minute=60_000,
    burst=100,
    connect_timeout=2.0,
    read_timeout=5.0,
    large_read_timeout=5.0,
    max_attempts=2,
    backoff_base=0.01,
    backoff_max=0.02,
)
# Generous on purpose: a loaded 2-core machine, and the server notices a hang-up at its next write.
SLACK_S = 2.5
MIB = 1024 * 1024


@pytest.fixture
def fake() -> Iterator[FaultyMassive]:
    with FaultyMassive(api_key=KEY) as server:
        server.add_chain(ChainSpec("AAPL", contracts=30))
        yield server


@pytest.fixture
def attacker() -> Iterator[LoopbackRecorder]:
    with LoopbackRecorder() as server:
        yield server


@pytest.fixture
def provider_for() -> Iterator[Callable[..., PolygonProvider]]:
    built: list[PolygonProvider] = []

    def build(fake: FaultyMassive, settings: HttpSettings = SETTINGS) -> PolygonProvider:
        provider = PolygonProvider(KEY, base_url=fake.base_url, clock=lambda: NOW, http_settings=settings)
        built.append(provider)
        return provider

    yield build
    for provider in built:
        provider.close()


def page(next_url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "OK", "request_id": "hostile-1", "results": []}
    if next_url is not None:
        body["next_url"] = next_url
    return body


# ---- 1. the API key goes nowhere a response chooses ---------------------------------------------

HOSTILE_NEXT_URLS = {
    # base_url + this = http://127.0.0.1:BASE@127.0.0.1:ATTACKER/steal: the base becomes user info.
    "userinfo-splice": "@127.0.0.1:{attacker}/steal?cursor=1",
    "port-splice": ":{attacker}/steal?cursor=1",
    "no-leading-slash": "127.0.0.1:{attacker}/steal?cursor=1",
    "absolute-other-port": "http://127.0.0.1:{attacker}/v3/snapshot/options/AAPL?cursor=1",
    "protocol-relative": "//127.0.0.1:{attacker}/steal?cursor=1",
    "userinfo-then-other-host": "http://127.0.0.1:{base}@127.0.0.1:{attacker}/steal?cursor=1",
    "userinfo-on-the-base-host": "http://user:pw@127.0.0.1:{base}/v3/snapshot/options/AAPL?cursor=1",
    "backslash-parser-differential": "http://127.0.0.1:{attacker}\\@127.0.0.1:{base}/steal?cursor=1",
    "other-scheme": "https://127.0.0.1:{base}/v3/snapshot/options/AAPL?cursor=1",
    "file-scheme": "file:///etc/passwd",
    "other-name-for-the-host": "http://localhost:{base}/v3/snapshot/options/AAPL?cursor=1",
    "header-smuggling": "/v3/snapshot/options/AAPL?cursor=1\r\nHost: 127.0.0.1:{attacker}",
    "tab-hidden": "/v3/snapshot/options/AAPL?cursor=\t1",
}


def port_of(fake: FaultyMassive) -> int:
    return urlsplit(fake.base_url).port or 80


@pytest.mark.parametrize("form", HOSTILE_NEXT_URLS)
def test_a_next_url_off_the_base_host_is_refused_and_no_other_server_hears_from_us(fake, attacker, provider_for, form):
    next_url = HOSTILE_NEXT_URLS[form].format(attacker=attacker.port, base=port_of(fake))
    fake.add_fault(SNAPSHOT, status=200, body=page(next_url))

    with pytest.raises(MalformedResponse) as refused:
        provider_for(fake).fetch_chain("AAPL", CURRENT)

    assert attacker.requests == []
    # Not followed at all, not even re-anchored onto the base host: the answer is malformed.
    assert [request.path for request in fake.requests] == [SNAPSHOT]
    message = str(refused.value)
    assert "next_url" in message and "refused to follow it" in message
    assert "\n" not in message and KEY not in message


def test_a_history_next_url_to_another_host_is_refused_too(fake, attacker, provider_for):
    fake.add_fault("/options/v1/analytics", status=200, body=page(f"@127.0.0.1:{attacker.port}/steal?cursor=1"))

    with pytest.raises(MalformedResponse, match="refused to follow it"):
        provider_for(fake).fetch_chain("AAPL", PAST)

    assert attacker.requests == []


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_a_next_url_on_the_base_host_is_followed_with_the_key_in_the_header_only(fake, provider_for, absolute):
    cursor = _encode_cursor({"offset": 0, "limit": 250})
    path = f"{SNAPSHOT}?cursor={cursor}&apiKey={KEY}"
    fake.add_fault(SNAPSHOT, status=200, body=page(fake.base_url + path if absolute else path))

    snapshot = provider_for(fake).fetch_chain("AAPL", CURRENT)

    assert len(snapshot.quotes) == 30
    follow = fake.requests[1]
    assert follow.path == SNAPSHOT and follow.param("cursor") == cursor and "apiKey" not in follow.query
    assert follow.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    "path", ["@127.0.0.1:{attacker}/steal", ":{attacker}/steal", "steal", ".localhost:{attacker}/x", "/x\r\nX: y"]
)
def test_the_client_itself_refuses_a_path_that_leaves_its_base_url(fake, attacker, path):
    client = ApiClient(fake.base_url, KEY, SETTINGS, provider="polygon")
    try:
        with pytest.raises(ProviderError, match="refused to request the path") as refused:
            client.get(path.format(attacker=attacker.port))
    finally:
        client.close()

    assert attacker.requests == [] and fake.requests == []
    assert not refused.value.retryable and KEY not in str(refused.value)


# ---- 2. a total deadline per request ------------------------------------------------------------

# A valid (empty) page padded to ~6 s at 0.1 s a byte: without a total deadline each attempt
# would succeed after those 6 s (no single read waits anywhere near the 5 s read timeout).
DRIPPED_BODY = json.dumps({"status": "OK", "results": []}).encode() + b" " * 30


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body-dripped", "headers-dripped"])
@pytest.mark.parametrize(("large", "setting"), [(False, "total_timeout"), (True, "large_total_timeout")])
def test_a_server_dripping_bytes_is_cut_off_at_the_total_deadline(fake, provider_for, drip_headers, large, setting):
    deadline = 1.0
    # The other lane's deadline is long: each lane must use its own.
    settings = replace(SETTINGS, **{"total_timeout": 30.0, "large_total_timeout": 30.0, setting: deadline})
    fake.add_hostile(Hostile(SNAPSHOT, "drip", body=DRIPPED_BODY, interval=0.1, drip_headers=drip_headers, times=None))

    with pytest.raises(TransientProviderError) as failed:
        provider_for(fake, settings).fetch_chain("AAPL", CURRENT, large=large)

    message = str(failed.value)
    assert "failed after 2 attempts; last: no complete answer within the total deadline of 1s" in message
    assert f"(HttpSettings.{setting})" in message and failed.value.retryable
    # Measured by the server: each attempt was dropped by the client, within the deadline + slack.
    attempts = fake.wait_streamed_ended(2)
    for attempt in attempts:
        assert not attempt.completed
        assert attempt.ended - attempt.started <= deadline + SLACK_S, attempts
    assert len(fake.requests) == 2


# ---- 3. a cap on the response size ----------------------------------------------------------------


def test_a_gzip_bomb_is_refused_after_inflating_no_more_than_the_cap(fake, provider_for):
    cap, inflated = 8 * MIB, 128 * MIB
    compressed = gzip_bomb(inflated)  # built before measuring: the server's memory is not the client's
    fake.add_hostile(Hostile(SNAPSHOT, "gzip-bomb", inflated_bytes=inflated, times=None))
    provider = provider_for(fake, replace(SETTINGS, max_response_bytes=cap))

    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge) as refused:
            provider.fetch_chain("AAPL", CURRENT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    message = str(refused.value)
    assert f"inflates past {cap} bytes" in message and "HttpSettings.max_response_bytes" in message
    assert "\n" not in message and isinstance(refused.value, MalformedResponse) and not refused.value.retryable
    # Stopped early on the wire too, and never held much more than the cap (the bomb is 16x it).
    wire = int(re.search(r"\((\d+) bytes read on the wire\)", message).group(1))
    assert wire < len(compressed) < cap
    assert peak < 3 * cap, f"peak traced memory {peak / MIB:.1f} MiB"
    # Not retried: the same request would be answered with the same bomb.
    assert len(fake.requests) == 1


def test_a_body_without_end_is_refused_at_the_cap_and_the_server_sees_the_client_hang_up(fake, provider_for):
    cap = 1 * MIB
    fake.add_hostile(Hostile(SNAPSHOT, "endless", chunk=b" " * 65536, inflated_bytes=128 * MIB))

    with pytest.raises(ResponseTooLarge, match=f"sent more than {cap} bytes"):
        provider_for(fake, replace(SETTINGS, max_response_bytes=cap)).fetch_chain("AAPL", CURRENT)

    [answer] = fake.wait_streamed_ended(1)
    # What the server got out: the cap plus what socket buffers held, nowhere near the 128 MiB.
    assert not answer.completed and answer.bytes_sent < 64 * MIB


def test_a_declared_length_over_the_cap_is_refused_before_reading(fake, provider_for):
    with pytest.raises(ResponseTooLarge, match="declares Content-Length"):
        provider_for(fake, replace(SETTINGS, max_response_bytes=1024)).fetch_chain("AAPL", CURRENT)

    assert len(fake.requests) == 1


def test_a_gzip_answer_under_the_cap_is_decoded_whole(fake):
    fake.add_hostile(Hostile("/v9/anything", "gzip-bomb", inflated_bytes=300_000))
    client = ApiClient(fake.base_url, KEY, SETTINGS, provider="polygon")
    try:
        answer = client.get("/v9/anything")
    finally:
        client.close()

    # Every inflated byte arrived: the JSON re-serialised the same way is the 300,000 bytes sent.
    assert answer.ok and answer.body["results"] == [] and set(answer.body["pad"]) == {"0"}
    assert len(json.dumps(answer.body)) == 300_000
    assert fake.requests[0].headers["Accept-Encoding"] == "gzip, deflate"
