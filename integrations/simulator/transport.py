"""A lean HTTP/1.1 transport for httpx: one keep-alive connection over plain asyncio streams.

httpx's default transport (httpcore, h11 and anyio) spends about 0.7 ms of CPU per request on a small machine; the
replay runs on the same machine as the receiver it measures, so that CPU is taken from the receiver. This transport
writes the request in one go and parses the answer directly (status line, headers, a body by Content-Length,
chunked or until close), about ten times cheaper. It serves plain `http://` targets only; the replay uses httpx's
default transport for `https://` or when asked to (`--http-transport httpx`).

Failures are raised as httpx's own exceptions (`ConnectError`, `ReadTimeout`, `RemoteProtocolError`...), so callers
handle both transports alike. A connection found closed by the server before a request is reopened; one that fails
during a request is dropped and the error raised (the replay counts it and retries, as a platform would).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

MAX_HEADER_LINES = 200


class LeanHTTP1Transport(httpx.AsyncBaseTransport):
    """One connection to one `http://` origin, reused while the server keeps it alive. Not for concurrent use: give
    each in-flight request its own transport (the replay gives each of its lanes a client with one)."""

    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._origin: tuple[str, int] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"LeanHTTP1Transport serves http:// only, not {request.url.scheme}://")
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        body = await request.aread()
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
        head += [b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw]
        head.append(b"\r\n")
        reader, writer = await self._connection(request.url, timeouts.get("connect"))
        phase: type[httpx.TimeoutException] = httpx.WriteTimeout
        try:
            writer.write(b"".join(head) + body)
            async with asyncio.timeout(timeouts.get("write")):
                await writer.drain()
            phase = httpx.ReadTimeout
            async with asyncio.timeout(timeouts.get("read")):
                status, reason, headers, keep_alive = await _read_head(reader)
                content = await _read_body(reader, request.method, status, headers)
        except TimeoutError as exc:
            self._close()
            raise phase(f"{phase.__name__} ({timeouts})", request=request) from exc
        except (OSError, EOFError) as exc:
            self._close()
            raise httpx.ReadError(f"connection lost during the request: {exc!r}", request=request) from exc
        except (ValueError, asyncio.LimitOverrunError) as exc:
            self._close()
            raise httpx.RemoteProtocolError(f"unreadable answer: {exc}", request=request) from exc
        except BaseException:
            # A cancellation leaves the connection mid-message: it cannot be reused.
            self._close()
            raise
        if not keep_alive:
            self._close()
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
            request=request,
        )

    async def _connection(
        self, url: httpx.URL, timeout: float | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        origin = (url.host, url.port or 80)
        reader, writer = self._reader, self._writer
        if reader is not None and writer is not None:
            # A server that closed an idle keep-alive connection has sent EOF: reconnect instead of failing.
            if origin == self._origin and not reader.at_eof() and not writer.is_closing():
                return reader, writer
            self._close()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(*origin)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {origin[0]}:{origin[1]} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {origin[0]}:{origin[1]}: {exc}") from exc
        self._reader, self._writer, self._origin = reader, writer, origin
        return reader, writer

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = self._origin = None

    async def aclose(self) -> None:
        writer = self._writer
        self._close()
        if writer is not None:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool]:
    status_line = await reader.readuntil(b"\r\n")
    version, _, rest = status_line.rstrip(b"\r\n").partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers = []
    for _ in range(MAX_HEADER_LINES):
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, colon, value = line.partition(b":")
        if not colon:
            raise ValueError(f"malformed header line: {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
    else:
        raise ValueError("too many header lines")
    connection = b",".join(value.lower() for name, value in headers if name.lower() == b"connection")
    keep_alive = b"close" not in connection if version == b"HTTP/1.1" else b"keep-alive" in connection
    return int(code), reason, headers, keep_alive


async def _read_body(
    reader: asyncio.StreamReader, method: str, status: int, headers: list[tuple[bytes, bytes]]
) -> bytes:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b""
    fields = {name.lower(): value for name, value in headers}
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if b"content-length" in fields:
        return await reader.readexactly(int(fields[b"content-length"]))
    # Neither a length nor chunks: the body ends when the server closes (the next request then reconnects).
    return await reader.read()
