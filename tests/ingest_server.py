"""A local web server for the ingestion tests: serves the fixture pages and feeds of
``tests/data/ingest`` on 127.0.0.1 (a free port), and a few misbehaving addresses.

    /news/NAME              NAME.html as text/html
    /feeds/NAME             a feed, {{BASE}} replaced by the server's address
    /redirect/NAME          302 to /news/NAME
    /to-ftp                 302 to an ftp: address
    /to-loopback/NAME       302 to http://127.0.0.1:PORT/news/NAME (absolute, by address)
    /slow                   answers after SLOW_SECONDS
    /trickle-headers        its status line and headers one byte a second (TRICKLE_SECONDS)
    /trickle-body           its headers at once, its body one byte a second
    /redirect-to/PORT       302 to http://127.0.0.1:PORT/news/orchard-frost (another host)
    /big, /big-unsized      a page of BIG_BYTES bytes, with and without Content-Length
    /report.pdf             application/pdf
    /gzip/NAME              NAME.html sent with Content-Encoding: gzip
    /bomb                   BOMB_BYTES of HTML sent gzip-compressed (about 1,000 times smaller)
    anything else           404
"""
from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "data" / "ingest"
SLOW_SECONDS = 3.0
TRICKLE_SECONDS = 1.0
BIG_BYTES = 300_000
BOMB_BYTES = 200_000_000
_FEED_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml"}


def fixture(name: str, base: str) -> bytes:
    """A fixture file with ``{{BASE}}`` replaced by ``base``."""
    return (FIXTURES / name).read_bytes().replace(b"{{BASE}}", base.encode())


class _Handler(BaseHTTPRequestHandler):
    server_version = "ingest-test/1.0"

    def log_message(self, format: str, *args: object) -> None:   # quiet
        self.server.requests.append(self.path)   # type: ignore[attr-defined]

    def do_GET(self) -> None:   # noqa: N802 (the name http.server calls)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        path = self.path
        self.server.agents.append(self.headers.get("User-Agent", ""))  # type: ignore[attr-defined]
        if path.startswith("/news/") and (FIXTURES / f"{path[6:]}.html").is_file():
            self._send(200, "text/html; charset=utf-8", fixture(f"{path[6:]}.html", base))
        elif path.startswith("/feeds/") and (FIXTURES / path[7:]).is_file():
            self._send(200, _FEED_TYPES[Path(path).suffix], fixture(path[7:], base))
        elif path.startswith("/redirect/"):
            self._redirect(f"/news/{path[10:]}")
        elif path.startswith("/to-loopback/"):
            self._redirect(f"{base}/news/{path[13:]}")
        elif path == "/to-ftp":
            self._redirect("ftp://127.0.0.1/story.html")
        elif path in ("/trickle-headers", "/trickle-body"):
            self._trickle(path == "/trickle-headers")
        elif path.startswith("/redirect-to/"):
            self._redirect(f"http://localhost:{path[13:]}/news/orchard-frost")
        elif path == "/slow":
            time.sleep(SLOW_SECONDS)
            self._send(200, "text/html", b"<html><body><p>Too late.</p></body></html>")
        elif path in ("/big", "/big-unsized"):
            body = b"<html><body>" + b"<p>word word word word word.</p>" * (BIG_BYTES // 32)
            self._send(200, "text/html", body, sized=path == "/big")
        elif path.startswith("/gzip/") and (FIXTURES / f"{path[6:]}.html").is_file():
            self._send(200, "text/html; charset=utf-8",
                       gzip.compress(fixture(f"{path[6:]}.html", base)), encoding="gzip")
        elif path == "/bomb":
            self._send(200, "text/html", self.server.bomb(), encoding="gzip")  # type: ignore[attr-defined]
        elif path == "/report.pdf":
            self._send(200, "application/pdf", b"%PDF-1.4 not a page")
        else:
            self._send(404, "text/html", b"<html><body>Not found</body></html>")

    def _trickle(self, headers: bool) -> None:
        """A page sent one byte every TRICKLE_SECONDS (its headers too, or only its body),
        until the client goes away."""
        body = b"<html><body>" + b"<p>A very slow story indeed.</p>" * 100 + b"</body></html>"
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.close_connection = True
        try:
            if not headers:
                self.wfile.write(head)
                self.wfile.flush()
            for byte in (head + body if headers else body):
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(TRICKLE_SECONDS)
        except OSError:          # the client gave up
            pass

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, content_type: str, body: bytes, sized: bool = True,
              encoding: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if sized:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (size limit)
            pass


class NewsServer(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]
    agents: list[str]
    _bomb: bytes = b""

    def bomb(self) -> bytes:
        """BOMB_BYTES of HTML, gzip-compressed (made once, on first use)."""
        if not self._bomb:
            page = b"<html><body><p>" + b" " * BOMB_BYTES + b"</p></body></html>"
            self._bomb = gzip.compress(page, compresslevel=9)
        return self._bomb

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (for a connection that must fail)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def news_server() -> Iterator[NewsServer]:
    """The server, listening on 127.0.0.1 until the block ends."""
    server = NewsServer(("127.0.0.1", 0), _Handler)
    server.requests, server.agents = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
