"""TLS for the gRPC API, for operators who expose it beyond the host."""

from __future__ import annotations

from pathlib import Path

import grpc


def server_credentials(cert_file: str, key_file: str) -> grpc.ServerCredentials | None:
    """Credentials from PEM files, or None for plaintext when neither is given."""
    if not cert_file and not key_file:
        return None
    if not (cert_file and key_file):
        raise SystemExit("TLS needs both --tls-cert and --tls-key (env BERTH_TLS_CERT, BERTH_TLS_KEY)")
    try:
        pair = (Path(key_file).read_bytes(), Path(cert_file).read_bytes())
    except OSError as exc:
        raise SystemExit(f"cannot read the TLS certificate or key: {exc}") from None
    return grpc.ssl_server_credentials([pair])
