"""service/ratelimit.py: COUNT per SECONDS, in memory and in Redis, with exact waits."""

from __future__ import annotations

import secrets

import pytest

from service.ratelimit import MemoryRateLimiter, RedisRateLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_allows_a_burst_then_one_per_interval():
    clock = Clock()
    limiter = MemoryRateLimiter(3, 60, clock=clock)
    assert [limiter.hit("k") for _ in range(3)] == [None, None, None]
    assert limiter.hit("k") == 20.0  # the next slot opens after 60/3 seconds
    assert limiter.hit("other") is None
    clock.now += 19.5
    assert limiter.hit("k") == 1.0
    clock.now += 0.5
    assert limiter.hit("k") is None
    assert limiter.hit("k") == 20.0
    clock.now += 3600
    assert [limiter.hit("k") for _ in range(4)] == [None, None, None, 20.0]


def test_redis_limiter_is_shared_and_exact(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    prefix = f"bnlab:ratelimit:test-{secrets.token_hex(4)}"
    first, second = (RedisRateLimiter(client, 3, 60, prefix=prefix) for _ in range(2))
    assert [first.hit("k"), second.hit("k"), first.hit("k")] == [None, None, None]
    wait = second.hit("k")  # two web processes, one budget
    assert wait is not None and 19 <= wait <= 20
    assert first.hit("other") is None
    assert 0 < client.pttl(f"{prefix}:k") <= 60_000  # the key expires with the budget
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_an_unreachable_redis_does_not_block_requests():
    import redis

    limiter = RedisRateLimiter(redis.Redis(port=1, socket_connect_timeout=0.2), 1, 60)
    assert limiter.hit("k") is None and limiter.hit("k") is None


@pytest.mark.parametrize("limit, period", [(1, 1), (30, 60), (1000000, 60)])
def test_the_burst_is_the_count(limit, period):
    clock = Clock()
    limiter = MemoryRateLimiter(limit, period, clock=clock)
    allowed = sum(limiter.hit("k") is None for _ in range(min(limit, 1000) + 1))
    assert allowed == min(limit, 1000) + (limit > 1000)
