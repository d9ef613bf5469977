"""HTTP GET with conditional requests, redirects, robots.txt, per-site pacing and caps."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ingest.errors import FetchError
from ingest.web.robots import RobotsCache, origin

USER_AGENT = "ClusterChat/0.1 (news reader)"
# Statuses whose reason we name; others read "HTTP 418".
_GONE = {404: "not found", 410: "gone", 401: "needs a login", 403: "forbidden"}


@dataclass(frozen=True, slots=True)
class Fetched:
    """One response: 200 with its body, or 304 (unchanged since the validators given)."""

    url: str  # asked for
    final_url: str  # after redirects
    status: int
    content_type: str  # media type only, lower case ("" when not given)
    charset: str | None  # from the Content-Type header
    body: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """True for a 304: the stored copy is current."""
        return self.status == 304


def check_url(url: str) -> str:
    """`url` stripped, if it is an http(s) URL with a host.

    Raises:
        FetchError: another scheme, or no host.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url}: not an http(s) URL")
    return url


def is_url(text: str) -> bool:
    """Whether a command-line argument names a URL rather than a file."""
    return text.strip().lower().startswith(("http://", "https://"))


class Fetcher:
    """GETs pages through an injected `httpx.Client`, politely.

    Every request honours robots.txt (read once per site), waits `min_interval` seconds
    (or the site's Crawl-delay, if longer) after the previous request to the same site,
    gives up after `timeout` seconds in all, and stops reading past `max_bytes`.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        timeout: float = 20.0,
        max_bytes: int = 20 * 1024 * 1024,
        min_interval: float = 0.5,
        user_agent: str = USER_AGENT,
    ) -> None:
        if timeout <= 0 or max_bytes <= 0 or min_interval < 0:
            raise ValueError("timeout and max_bytes must be > 0, min_interval >= 0")
        self.client = client
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.min_interval = min_interval
        self.user_agent = user_agent
        self.requests = 0  # bodies and 304s received, for reports and benchmarks
        self.bodies = 0  # of which 200s with a body
        self.robots = RobotsCache(self._robots_txt, user_agent)
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pace(self, url: str, delay: float) -> None:
        """Sleep until this site may get its next request, and book the one after."""
        site = origin(url)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(site, now))
            self._next[site] = start + max(self.min_interval, delay)
        if start > now:
            time.sleep(start - now)

    def _robots_txt(self, url: str) -> tuple[int, str]:
        self._pace(url, 0.0)
        try:
            response = self.client.get(
                url,
                headers={"User-Agent": self.user_agent},
                timeout=self.timeout,
                follow_redirects=True,
            )
        except httpx.HTTPError:
            return 0, ""
        return response.status_code, response.text[:500_000]

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET `url`; with `etag` or `last_modified`, a 304 says the stored copy is current.

        Raises:
            FetchError: one line naming the URL and why: not an http(s) URL, disallowed by
                robots.txt, unreachable host, timed out, too many redirects, an HTTP
                error status, or a body over `max_bytes`.
        """
        url = check_url(url)
        if not self.robots.allowed(url):
            raise FetchError(f"{url}: disallowed by the site's robots.txt")
        self._pace(url, self.robots.delay(url))
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            return self._stream(url, headers)
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url}: timed out after {self.timeout:g} s") from exc
        except httpx.TooManyRedirects as exc:
            raise FetchError(f"{url}: too many redirects") from exc
        except httpx.ConnectError as exc:
            raise FetchError(f"{url}: unreachable host ({_reason(exc)})") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: request failed ({_reason(exc)})") from exc

    def _stream(self, url: str, headers: dict[str, str]) -> Fetched:
        deadline = time.monotonic() + self.timeout
        with self.client.stream(
            "GET", url, headers=headers, timeout=self.timeout, follow_redirects=True
        ) as response:
            self.requests += 1
            final = str(response.url)
            if response.status_code >= 400:
                reason = _GONE.get(response.status_code, response.reason_phrase.lower())
                raise FetchError(f"{url}: HTTP {response.status_code} {reason}".rstrip())
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"{url}: too large (over {_size(self.max_bytes)})")
            body = bytearray()
            if response.status_code != 304:
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > self.max_bytes:
                        raise FetchError(f"{url}: too large (over {_size(self.max_bytes)})")
                    if time.monotonic() > deadline:
                        raise FetchError(f"{url}: timed out after {self.timeout:g} s")
                self.bodies += 1
            media = response.headers.get("content-type", "").partition(";")[0]
            return Fetched(
                url=url,
                final_url=final,
                status=response.status_code,
                content_type=media.strip().lower(),
                charset=response.charset_encoding,
                body=bytes(body),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"
