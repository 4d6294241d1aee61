"""Function calls over HTTP to the edge, with the API token: how scripts, notebooks and
`berth run` reach functions (containers use their agent instead: berth._runtime.call_client).

Standard library only (http.client), so the SDK needs no HTTP client dependency. Each thread
keeps one keep-alive connection, so `.map`'s workers each reuse theirs.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from ._calls import CALL_PATH, platform_error
from ._errors import Error, InvalidError

CONNECT_TIMEOUT = 10.0
READ_SIZE = 256 * 1024


class HttpTransport:
    """POSTs calls to `{edge_url}/__berth/call` (the edge's bare host) with `Bearer {token}`."""

    def __init__(self, edge_url: str, token: str) -> None:
        parts = urlsplit(edge_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidError(f"the edge URL {edge_url!r} is not an http(s) URL")
        self.edge_url = edge_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._token = token
        self._local = threading.local()

    @classmethod
    def from_config(cls) -> HttpTransport:
        """The edge and token of the client config (`berth up` / `berth login --edge` write it)."""
        from .cli.config import config_path, load

        config = load()
        if not config.edge_url:
            raise InvalidError(
                f"no edge URL configured ({config_path()} names none): calling functions from outside "
                "a container needs `berth up` on this machine (or BERTH_HOME pointing at its home), or "
                "`berth login --server HOST:PORT --token T --edge URL`"
            )
        return cls(config.edge_url, config.token)

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=CONNECT_TIMEOUT)
        conn.connect()
        # A call may run as long as the function's timeout: only connecting is bounded here.
        assert conn.sock is not None
        conn.sock.settimeout(None)
        return conn

    def _send(self, body: bytes) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        headers = {"Content-Type": "application/x-berth-call"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        reused = conn is not None
        while True:
            try:
                if conn is None:
                    conn = self._connect()
                conn.request("POST", CALL_PATH, body=body, headers=headers)
                return conn, conn.getresponse()
            except OSError as exc:
                if conn is not None:
                    conn.close()
                conn = self._local.conn = None
                # The edge closes idle keep-alive connections: a reused one may be gone before
                # it is read, so one fresh attempt follows; a fresh connection failing is final.
                if reused:
                    reused = False
                    continue
                raise Error(f"cannot reach the edge at {self.edge_url}: {exc}") from None

    def stream(self, body: bytes) -> Iterator[bytes]:
        """The answer's body in pieces; a non-200 answer raises the matching `berth` exception."""
        conn, response = self._send(body)
        self._local.conn = None  # owned by this call until its answer is read to the end
        if response.status != 200:
            try:
                text = response.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as exc:
                text = f"(the answer's text was cut: {exc})"
            self._release(conn, response, finished=True)
            raise platform_error(response.status, text)
        finished = False
        try:
            while chunk := response.read1(READ_SIZE):
                yield chunk
            # read1 leaves a Content-Length answer open at its end; read() closes it, so the
            # connection takes the next request.
            response.read()
            finished = True
        except (OSError, http.client.HTTPException) as exc:
            raise Error(f"the connection to the edge at {self.edge_url} failed mid-call: {exc}") from None
        finally:
            self._release(conn, response, finished=finished)

    def _release(
        self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse, *, finished: bool
    ) -> None:
        """Keeps the connection for this thread's next call if the answer was read whole."""
        if finished and not response.will_close:
            self._local.conn = conn
        else:
            conn.close()
