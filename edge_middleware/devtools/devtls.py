"""``edge-middleware serve --tls``: a certificate for loopback, made on first use.

The first ``--tls`` run makes a small local certificate authority and a server certificate for
``localhost``, ``127.0.0.1`` and ``::1`` signed by it, and keeps them in
``$EDGE_MIDDLEWARE_TLS_DIR`` (default ``~/.cache/edge-middleware/tls``):

- ``ca.pem``: trust this one (``curl --cacert``, ``httpx.Client(verify=...)``, or your
  browser's or system's trust store) to get no warning;
- ``localhost.pem`` / ``localhost-key.pem``: what the server presents.

The authority's private key is thrown away once it has signed, so the authority can sign
nothing else. Needs the ``[tls]`` extra (``cryptography``); ``--cert``/``--key`` use your own
files and need nothing extra.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from .devapp import ServeError

__all__ = ["TLSFiles", "default_tls_dir", "ensure_local_certificate"]

INSTALL_LINE = "pip install 'edge-middleware[tls]'"


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """The files ``--tls`` serves with; ``ca`` is None for ``--cert``/``--key``."""

    cert: Path
    key: Path
    ca: Path | None = None


def default_tls_dir() -> Path:
    env = os.environ.get("EDGE_MIDDLEWARE_TLS_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "edge-middleware" / "tls"


def ensure_local_certificate(directory: Path | None = None) -> TLSFiles:
    """The loopback certificate in ``directory``, made now if it is not there yet."""
    directory = directory if directory is not None else default_tls_dir()
    ca_path = directory / "ca.pem"
    files = TLSFiles(directory / "localhost.pem", directory / "localhost-key.pem", ca_path)
    if files.cert.is_file() and files.key.is_file() and ca_path.is_file():
        return files
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise ServeError(
            "--tls",
            None,
            f"--tls makes its certificate with the cryptography package: {INSTALL_LINE} "
            "(or give your own with --cert FILE --key FILE)",
        ) from None
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge-middleware local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    key_bytes = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    files.cert.write_bytes(cert.public_bytes(pem))
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    return files
