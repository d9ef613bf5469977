"""robots.txt rules, read once per site and kept for an hour."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

# A site's rules are read again after this many seconds.
ROBOTS_TTL_S = 3600.0
# (status, text) of a robots.txt; status 0 when the site could not be reached.
RobotsFetch = Callable[[str], tuple[int, str]]


def origin(url: str) -> str:
    """scheme://host[:port] of `url`, the unit robots.txt rules and rate limits apply to."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class RobotsCache:
    """Answers whether a URL may be fetched, and the crawl delay a site asks for.

    A missing robots.txt (4xx) allows everything; a server error (5xx) forbids the site
    until the rules are read again, as RFC 9309 says; an unreachable site is allowed, so
    that fetching the page itself reports why the site cannot be reached.
    """

    def __init__(self, fetch: RobotsFetch, user_agent: str) -> None:
        self._fetch = fetch
        self._agent = user_agent
        self._rules: dict[str, tuple[float, RobotFileParser]] = {}
        self._lock = threading.Lock()

    def _parser(self, url: str) -> RobotFileParser:
        site = origin(url)
        with self._lock:
            cached = self._rules.get(site)
        if cached and time.monotonic() - cached[0] < ROBOTS_TTL_S:
            return cached[1]
        status, text = self._fetch(f"{site}/robots.txt")
        parser = RobotFileParser()
        if 500 <= status < 600:
            parser.parse(["User-agent: *", "Disallow: /"])
        elif 200 <= status < 300:
            parser.parse(text.splitlines())
        else:
            parser.parse([])
        with self._lock:
            self._rules[site] = (time.monotonic(), parser)
        return parser

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets our user agent fetch `url`."""
        return self._parser(url).can_fetch(self._agent, url)

    def delay(self, url: str) -> float:
        """The Crawl-delay the site asks of our user agent, in seconds (0 when none)."""
        value = self._parser(url).crawl_delay(self._agent)
        return float(value) if value else 0.0
