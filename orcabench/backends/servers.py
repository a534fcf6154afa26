"""The servers behind the openai backend: one or several, each request to the least-loaded one.

``base_url`` may name several OpenAI-compatible servers (``URL1,URL2,…``). Each attempt goes
to the healthy server with the fewest requests in flight (ties: the one that has taken the
fewest so far), so a faster server takes a bigger share. A failed attempt (5xx, 408/409/429,
timeout, connection refused) takes its server out of rotation for a backoff that doubles
with its consecutive failures; the retry goes to another server at once, so a dead server's
share moves to the others, and it is probed again when its backoff has passed. With one
server this is the plain retry policy: wait the backoff, then try it again. A server that
refused a connection on this machine is gone for good (nothing listens there; a backoff
will not start it): it takes no more requests, and when every server is gone ``acquire``
says so at once instead of waiting.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt k waits between half and all of base * 2**k (capped)."""

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        backoff = min(self.max_delay, self.base_delay * 2**attempt)
        # "Equal jitter": never zero (a rate-limited server gets a real pause) but spread, so
        # the concurrent workers that were all refused at once do not come back in lockstep.
        jittered = backoff / 2 + rng.uniform(0, backoff / 2)
        if retry_after is not None:  # the server knows best, within our cap
            return min(self.max_delay, max(retry_after, jittered))
        return jittered


def public_url(url: str) -> str:
    """The URL without user:password@, fit for the manifest."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))) if parts.hostname else url


def server_urls(setting: Any) -> list[str | None]:
    """``base_url`` as a list: a comma-separated string or a YAML list; [None] for the client's default."""
    if setting is None:
        return [None]
    parts = setting if isinstance(setting, list) else str(setting).split(",")
    urls = [str(part).strip() for part in parts if str(part).strip()]
    return list(dict.fromkeys(urls)) or [None]


@dataclass
class Server:
    index: int
    client: openai.OpenAI
    in_flight: int = 0
    taken: int = 0
    answered: int = 0
    failed: int = 0
    failures_in_a_row: int = 0
    down_until: float = 0.0  # time.monotonic() before which no attempt is sent here
    gone: bool = False  # refused a connection on this machine: never tried again
    seconds: float = 0.0  # summed wall time of its attempts

    @property
    def url(self) -> str:
        return public_url(str(self.client.base_url))


class ServerPool:
    """Thread-safe choice of server per attempt, and each server's health."""

    def __init__(self, urls: list[str | None], api_key: str, timeout: float, retry: RetryPolicy, rng: random.Random) -> None:
        self.servers = [Server(i, openai.OpenAI(base_url=url, api_key=api_key, max_retries=0, timeout=timeout))
                        for i, url in enumerate(urls)]
        self.retry = retry
        self._rng = rng
        self._lock = threading.Lock()

    def acquire(self, avoid: Server | None = None) -> Server | None:
        """The least-loaded server that is up (another than ``avoid`` when one is); waits while none is.

        None when every server is gone.
        """
        while True:
            with self._lock:
                if all(s.gone for s in self.servers):
                    return None
                now = time.monotonic()
                up = [s for s in self.servers if s.down_until <= now and not s.gone]
                others = [s for s in up if s is not avoid]
                if up:
                    server = min(others or up, key=lambda s: (s.in_flight, s.taken, s.index))
                    server.in_flight += 1
                    server.taken += 1
                    return server
                wake = min(s.down_until for s in self.servers if not s.gone)
            time.sleep(max(0.0, wake - now))

    def release(self, server: Server, seconds: float, failed: bool = False, retry_after: float | None = None,
                answered: bool = True, gone: bool = False) -> None:
        """An attempt ended; ``failed``: the server could not serve it (a refused bad request is not its failure);
        ``gone``: it refused the connection on this machine, so it is never tried again."""
        with self._lock:
            server.in_flight -= 1
            server.seconds += seconds
            server.gone = server.gone or gone
            if not failed:
                server.answered += answered
                server.failures_in_a_row = 0
                return
            server.failed += 1
            pause = self.retry.delay(server.failures_in_a_row, retry_after, self._rng)
            server.failures_in_a_row += 1
            server.down_until = max(server.down_until, time.monotonic() + pause)

    def gone(self) -> list[Server]:
        with self._lock:
            return [s for s in self.servers if s.gone]

    def info(self) -> list[dict[str, Any]]:
        return [{"url": s.url, "answered": s.answered, "failed": s.failed, "seconds": round(s.seconds, 3)} for s in self.servers]

    def close(self) -> None:
        for server in self.servers:
            server.client.close()
