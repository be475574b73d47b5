"""Fetching a page or a feed over HTTP: http and https only, a clear user agent, redirects
followed (each one checked), a time limit for the whole download and a size limit.

Every failure is an ``IngestError`` whose message says what happened in words a person can
act on ("no answer from example.com within 20 s"), never a traceback."""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from retrieval.ingest.records import IngestError
from retrieval.settings import IngestSettings

SCHEMES = ("http", "https")
# What a page or a feed is served as; anything else (a PDF, an image) is refused.
_PAGE_TYPES = ("text/html", "application/xhtml+xml")
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
               "application/xml", "text/xml", "application/feed+json")
_CHUNK = 64 * 1024
# The content codings we ask for and decode ourselves, a chunk at a time, so a small compressed
# download cannot grow past the size limit in memory (httpx decodes a whole network read at once).
_ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class Fetched:
    """A downloaded document: the URL asked for, the URL it came from after redirects, its
    media type (``text/html``, lower case, without parameters) and its bytes as served."""

    url: str
    final_url: str
    media_type: str
    body: bytes

    @property
    def is_page(self) -> bool:
        return self.media_type in _PAGE_TYPES


def is_url(source: str) -> bool:
    """Whether ``source`` is written as a link (``scheme://...``) rather than a file name."""
    scheme, sep, _ = source.partition("://")
    return bool(sep) and scheme.isascii() and scheme.isalpha()


def check_url(url: str) -> str:
    """``url`` when it is an http or https link with a host; raises ``IngestError`` otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise IngestError(f"not a valid link ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise IngestError(f"only http and https links can be added, not {parts.scheme}:")
    if not parts.hostname:
        raise IngestError("the link has no host name")
    return url


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url


def new_client(settings: IngestSettings, *, private_addresses: bool = True) -> httpx.Client:
    """An HTTP client with the settings' user agent, time limit and redirect limit; without
    ``private_addresses``, every request (each redirect too) to a host that is or resolves
    to a loopback, private, link-local or reserved address is refused. Connections are not
    kept for a later fetch: each fetch's deadline watches the connections it made."""
    hooks = [_only_http] if private_addresses else [_only_http, _only_public]
    return httpx.Client(headers={"User-Agent": settings.user_agent,
                                 "Accept-Encoding": _ACCEPT_ENCODING},
                        timeout=httpx.Timeout(settings.timeout_seconds),
                        limits=httpx.Limits(max_keepalive_connections=0),
                        follow_redirects=True, max_redirects=settings.max_redirects,
                        event_hooks={"request": hooks})


def _only_public(request: httpx.Request) -> None:
    """The request's host is a public address (all the addresses its name resolves to), and so
    is the address its connection reaches: the name may resolve again, to another address,
    when the connection is made (DNS rebinding), so that address is checked too, before a
    byte of the request is sent (unless a proxy makes the connection)."""
    host = request.url.host
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        raise IngestError(f"could not find the address of {host}") from None
    for address in addresses:
        _check_public(host, address)
    if not _proxied(request.url):
        request.extensions["trace"] = _connection_check(host, request.extensions.get("trace"))


def _check_public(host: str, address: str) -> None:
    ip = ipaddress.ip_address(address.split("%")[0])
    ip = getattr(ip, "ipv4_mapped", None) or ip
    if not ip.is_global or ip.is_multicast:
        raise IngestError(f"{host} is a private or local address ({ip}), which links "
                          "cannot lead to here (ingest.allow_private_addresses)")


TraceCallback = Callable[[str, dict[str, Any]], None]


def _connection_check(host: str, chained: TraceCallback | None) -> TraceCallback:
    """An httpcore ``trace`` callback that checks the address each new connection reached
    (httpcore calls it when the TCP connection is made, before the request is written)."""
    def trace(event: str, info: dict[str, Any]) -> None:
        if chained is not None:
            chained(event, info)
        if event == "connection.connect_tcp.complete":
            stream = info["return_value"]
            try:
                _check_public(host, stream.get_extra_info("server_addr")[0])
            except BaseException:
                stream.close()
                raise
    return trace


def _proxied(url: httpx.URL) -> bool:
    """Whether the environment sends ``url`` through a proxy (which then makes the
    connection to the host: only the proxy's own address could be checked)."""
    proxies = urllib.request.getproxies()
    return bool(proxies.get(url.scheme) or proxies.get("all")) and \
        not urllib.request.proxy_bypass(url.host)


def _only_http(request: httpx.Request) -> None:
    """Every request, redirects included, goes to an http or https URL."""
    if request.url.scheme not in SCHEMES:
        raise IngestError(f"the link redirects to a {request.url.scheme}: address, which "
                          "cannot be added")


class _Deadline:
    """One deadline for a whole fetch (connecting, each redirect, headers and body): when it
    passes, every connection the fetch made is shut down, which ends a read however slowly
    the server trickles its bytes (a time limit per read would restart with each byte)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.host = ""                      # the host of the request under way
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.001)

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """An httpcore ``trace`` callback (the extensions of a request go with each of its
        redirects): note the host being connected to, watch the connection made."""
        if event == "connection.connect_tcp.started":
            self.host = str(info.get("host") or self.host)
        elif event == "connection.connect_tcp.complete":
            sock = info["return_value"].get_extra_info("socket")
            with self._lock:
                self._sockets.append(sock)
                if self.expired:
                    _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    @contextmanager
    def running(self) -> Iterator["_Deadline"]:
        self._timer.start()
        try:
            yield self
        finally:
            self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)   # wakes a read blocked in another thread
    except OSError:                       # already closed
        pass


def fetch(url: str, client: httpx.Client, settings: IngestSettings) -> Fetched:
    """Download ``url`` (a page or a feed) within ``settings.timeout_seconds`` in all.
    Raises ``IngestError`` saying why it could not: a bad link, no answer in time, an HTTP
    error, not a page or a feed, or too large; a failure names the host that failed (the
    one a redirect led to)."""
    check_url(url)
    deadline = _Deadline(settings.timeout_seconds)
    deadline.host = host_of(url)
    try:
        with deadline.running(), client.stream(
                "GET", url, timeout=httpx.Timeout(deadline.remaining()),
                extensions={"trace": deadline.trace}) as response:
            fetched = _read(url, response, settings, deadline)
    except httpx.HTTPError as exc:
        raise IngestError(_failure(exc, deadline, settings)) from None
    if fetched is None:
        raise IngestError(_failure(httpx.ReadTimeout("deadline"), deadline, settings))
    return fetched


def _read(url: str, response: httpx.Response, settings: IngestSettings,
          deadline: _Deadline) -> Fetched | None:
    """The body of ``response`` within the limits (None: the deadline passed)."""
    host = response.url.host
    if response.status_code >= 400:
        raise IngestError(f"{host} answered {response.status_code} "
                          f"{response.reason_phrase or 'error'}".rstrip())
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and media_type not in _PAGE_TYPES + _FEED_TYPES:
        raise IngestError(f"not a web page or a feed ({media_type})")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise IngestError(_too_large(settings.max_bytes))
    chunks: list[bytes] = []
    size = 0
    for chunk in _decoded(response):
        size += len(chunk)
        if size > settings.max_bytes:
            raise IngestError(_too_large(settings.max_bytes))
        if deadline.passed():
            return None
        chunks.append(chunk)
    if deadline.passed():    # the connection was shut: what came is not the whole body
        return None
    return Fetched(url, str(response.url), media_type or "application/octet-stream",
                   b"".join(chunks))


def _failure(exc: httpx.HTTPError, deadline: _Deadline, settings: IngestSettings) -> str:
    """Why the fetch failed, naming the host of the request that failed."""
    try:
        host = exc.request.url.host or deadline.host
    except RuntimeError:          # an exception not tied to a request
        host = deadline.host
    if deadline.passed() or isinstance(exc, httpx.TimeoutException):
        return f"no answer from {host} within {settings.timeout_seconds:g} s (timeout)"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"more than {settings.max_redirects} redirects"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"the link leads to an address that is not http or https ({exc})"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {host}"
    return f"the download from {host} failed ({type(exc).__name__})"  # broken, malformed


def _decoded(response: httpx.Response) -> Iterator[bytes]:
    """The response's body, decoded from its content coding (gzip, deflate or none), in
    pieces of at most ``_CHUNK`` bytes: however much a compressed piece expands, no more than
    that is made before the caller has counted it."""
    codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")
               if c.strip() and c.strip().lower() != "identity"]
    if not codings:
        yield from response.iter_raw(_CHUNK)
        return
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise IngestError(f"the server sent it encoded as {', '.join(codings)}, which cannot "
                          "be read (only gzip and deflate)")
    # gzip: a gzip header; deflate: a zlib header, or (some servers) raw deflate data
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if codings[0] != "deflate" else zlib.MAX_WBITS)
    first = True
    try:
        for raw in response.iter_raw(_CHUNK):
            if first and codings[0] == "deflate" and raw and (raw[0] & 0x0F) != 8:
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            first = False
            while raw:
                piece = decoder.decompress(raw, _CHUNK)
                if piece:
                    yield piece
                raw = decoder.unconsumed_tail
        rest = decoder.flush()
    except zlib.error:
        raise IngestError(f"the {codings[0]} data sent is damaged") from None
    if rest:
        yield rest


def _too_large(limit: int) -> str:
    return f"larger than the limit of {limit:,} bytes (ingest.max_bytes)"
