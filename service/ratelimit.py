"""Per-key request limits: in Redis when the service uses Redis (shared by every web process),
in this process's memory otherwise (embedded, one process).

The algorithm is GCRA (the generic cell rate algorithm): "COUNT per SECONDS" lets a key send
COUNT requests at once and then one every SECONDS/COUNT, with no window edges to burst across,
and the wait it reports is exact. One number per key is stored: the "theoretical arrival time"
of the key's next request.
"""

from __future__ import annotations

import logging
import math
import threading
import time

log = logging.getLogger(__name__)


def _gcra(tat: float, now: float, interval: float, period: float) -> tuple[float, float | None]:
    """(new arrival time, None) if allowed, else (unchanged arrival time, seconds to wait)."""
    new_tat = max(tat, now) + interval
    if new_tat - now > period:
        return tat, new_tat - now - period
    return new_tat, None


class MemoryRateLimiter:
    def __init__(self, limit: int, period: int, clock=time.monotonic):
        self.interval, self.period, self.clock = period / limit, float(period), clock
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one request; None if allowed, else the whole seconds to wait."""
        now = self.clock()
        with self._lock:
            tat, wait = _gcra(self._tat.get(key, now), now, self.interval, self.period)
            self._tat[key] = tat
            if len(self._tat) > 10_000:  # forget keys that have gone quiet
                self._tat = {k: v for k, v in self._tat.items() if v > now}
        return None if wait is None else float(max(1, math.ceil(wait)))

    def wait(self, key: str) -> float | None:
        """Like hit, without counting: None if a request now would be allowed."""
        now = self.clock()
        with self._lock:
            _, wait = _gcra(self._tat.get(key, now), now, self.interval, self.period)
        return None if wait is None else float(max(1, math.ceil(wait)))


# The same GCRA step, atomic in Redis, on Redis's clock so that every web host agrees.
_GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > period then
  return tostring(new_tat - now - period)
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000))
return ''
"""

# The check alone, counting nothing (for limits on failures: look first, count a failure later).
_GCRA_PEEK_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > period then
  return tostring(new_tat - now - period)
end
return ''
"""


class RedisRateLimiter:
    def __init__(self, redis_client, limit: int, period: int, prefix: str = "bnlab:ratelimit"):
        self.interval, self.period, self.prefix = period / limit, float(period), prefix
        self._script = redis_client.register_script(_GCRA_SCRIPT)
        self._peek = redis_client.register_script(_GCRA_PEEK_SCRIPT)

    def hit(self, key: str) -> float | None:
        return self._run(self._script, key)

    def wait(self, key: str) -> float | None:
        return self._run(self._peek, key)

    def _run(self, script, key: str) -> float | None:
        try:
            wait = script(keys=[f"{self.prefix}:{key}"], args=[self.interval, self.period])
        except Exception:  # noqa: BLE001 - an unreachable Redis must not take the API down
            log.warning("rate limit store unreachable; request allowed", exc_info=True)
            return None
        if not wait:
            return None
        return float(max(1, math.ceil(float(wait))))


EXTENSION = "bnlab.ratelimit"


def make_limiter(settings, limit: int, period: int, prefix: str = "bnlab:ratelimit"):
    """In Redis when the service uses Redis, else in this process's memory."""
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2,
                                      socket_connect_timeout=2)
        return RedisRateLimiter(client, limit, period, prefix=prefix)
    return MemoryRateLimiter(limit, period)


def init_app(app):
    limiter = make_limiter(app.config["BNLAB"], *app.config["BNLAB"].rate_limit_pair)
    app.extensions[EXTENSION] = limiter
    return limiter
