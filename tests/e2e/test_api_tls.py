"""The deploy API over TLS, for operators who expose it beyond the host: the CLI trusts only the
CA its config names, and a plaintext client gets nothing."""

from __future__ import annotations

import datetime
import ipaddress
import signal
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from berth.v1 import control_pb2, control_pb2_grpc
from tests.e2e.conftest import Platform, start_platform, stop_process

pytestmark = pytest.mark.xdist_group("up")


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_the_api_serves_tls_and_the_cli_trusts_only_its_ca(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "berth-api")
    stranger, _ = _self_signed(tmp_path, "stranger")
    platform: Platform = start_platform(
        tmp_path / "home", {"BERTH_TLS_CERT": str(cert), "BERTH_TLS_KEY": str(key)}
    )
    try:
        assert "ca_file" in (platform.home / "config.toml").read_text()
        listed = platform.berth("app", "list", timeout=60)
        assert listed.returncode == 0, listed.stderr

        wrong_ca = platform.berth(
            "app", "list", timeout=60, env={**platform.env, "BERTH_CA_FILE": str(stranger)}
        )
        assert wrong_ca.returncode != 0
        assert "not reachable" in wrong_ca.stderr, wrong_ca.stderr

        server = (platform.home / "config.toml").read_text().split('server = "', 1)[1].split('"', 1)[0]
        with grpc.insecure_channel(server) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                control_pb2_grpc.ControlStub(channel).ListApps(control_pb2.ListAppsRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        assert stop_process(platform.process, signal.SIGINT) == 0
