"""A provider's quota, kept on the client side: requests and tokens per minute (``generate.engine``
of the openai backend: ``requests_per_minute``, ``tokens_per_minute``).

Every HTTP request (a retry too: providers count it) takes its place in a sliding window of the
last minute before it is sent, and waits while the window is full. A request is counted at what
it may cost, its prompt and ``n * max_tokens`` (how providers charge a token quota when a request
arrives), and settled at what it did cost once the reply's ``usage`` says. A request larger than
the whole token budget is sent alone rather than never.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

PERIOD_S = 60.0


class RateLimit:
    """Requests and tokens per minute, shared by the client's threads."""

    def __init__(
        self,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        period_s: float = PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.requests, self.tokens, self.period_s = requests_per_minute, tokens_per_minute, period_s
        self.clock, self.sleep = clock, sleep
        self.window: deque[list[float]] = deque()  # [sent at, tokens], oldest first
        self.lock = threading.Lock()
        self.waited_s = 0.0

    def acquire(self, tokens: int) -> list[float]:
        """Wait until a request of ``tokens`` fits the last minute's budget; its entry, for :meth:`settle`."""
        while True:
            with self.lock:
                now = self.clock()
                while self.window and self.window[0][0] <= now - self.period_s:
                    self.window.popleft()
                fits_requests = self.requests is None or len(self.window) + 1 <= self.requests
                used = sum(t for _, t in self.window)
                fits_tokens = self.tokens is None or used + tokens <= self.tokens or not self.window
                if fits_requests and fits_tokens:
                    entry = [now, float(tokens)]
                    self.window.append(entry)
                    return entry
                wait = self.window[0][0] + self.period_s - now
                self.waited_s += wait
            self.sleep(max(wait, 0.001))

    def settle(self, entry: list[float], tokens: int) -> None:
        """What the request did cost (its reply's usage), in place of what it might have."""
        with self.lock:
            entry[1] = float(tokens)
