"""Keys and certificates of a node: Ed25519 signing keys and the ECDSA P-256 TLS hierarchy.

One national TLS hierarchy: the ministry's root CA (path length 1) signs each province's issuing
CA (path length 0); a parent's issuing CA signs its children's leaf certificates (the ministry's
issuing CA is the root itself). Every node trusts the root, presents its leaf plus chain, and is
named in its certificate by the DNS SAN `<region>.node.12328.internal`. ECDSA P-256 because
Ed25519 TLS certificates fail the gRPC handshake (measured); Ed25519 signs envelopes only.

Files live in `<node home>/keys/federation/`:
    signing-<n>.pem   Ed25519 private keys (n = key number in `ed25519:<region>:<n>`)
    seal-<n>.pem      X25519 private keys that open content sealed to `x25519:<region>:<n>`
    tls.key tls.crt   the node's TLS key and its leaf certificate followed by the chain
    root-ca.crt       the national root certificate (pinned at enrolment)
    ca.key ca.crt     the issuing CA (ministry and provinces)
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from federation.routing import parent_of
from node.errors import ValidationError

SAN_SUFFIX = ".node.12328.internal"
DEFAULT_LEAF_DAYS = 90
DEFAULT_CA_DAYS = 3650


def san_for(region: str) -> str:
    return f"{region}{SAN_SUFFIX}"


def region_from_san(name: str) -> str | None:
    if name.endswith(SAN_SUFFIX):
        region = name[: -len(SAN_SUFFIX)]
        if len(region) == 6 and region.isdigit():
            return region
    return None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- files ----


def write_private(path: Path, data: bytes) -> None:
    """Write secret bytes with mode 0600 (created that way, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def private_pem(key: Ed25519PrivateKey | X25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    """An unencrypted PKCS#8 PEM of a signing (Ed25519), sealing (X25519) or TLS (ECDSA) private key."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_ed25519(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValidationError(f"不是 Ed25519 私钥：{path}")
    return key


def load_x25519(path: Path) -> X25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise ValidationError(f"不是 X25519 私钥：{path}")
    return key


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def load_ec(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValidationError("不是 ECDSA 私钥")
    return key


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_certs(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValidationError(f"证书格式错误：{exc}") from None


# ---- certificates ----


def _name(region: str, what: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "12328"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{region} {what}"),
        ]
    )


def make_csr(
    key: ec.EllipticCurvePrivateKey, region: str, *, ca: bool = False
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(region, "CA" if ca else "node"))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san_for(region))]), False)
    return builder.sign(key, hashes.SHA256())


def create_root_ca(
    region: str, days: int = DEFAULT_CA_DAYS
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The national root CA (only the ministry makes one)."""
    key = ec_key()
    now = _utcnow()
    name = _name(region, "root CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA signs certificates and CRLs; a leaf signs and agrees keys (ECDHE)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def sign_csr(
    csr: x509.CertificateSigningRequest,
    *,
    region: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_cert: x509.Certificate,
    ca: bool = False,
    days: int | None = None,
) -> x509.Certificate:
    """Issue a certificate for `region` from its CSR: a leaf (SAN set by us, not taken from the
    CSR) or, with `ca=True`, a province issuing CA (path length 0)."""
    if not csr.is_signature_valid:
        raise ValidationError("证书请求签名无效")
    if not isinstance(csr.public_key(), ec.EllipticCurvePublicKey):
        raise ValidationError("证书请求必须使用 ECDSA P-256 密钥")
    now = _utcnow()
    days = days or (DEFAULT_CA_DAYS if ca else DEFAULT_LEAF_DAYS)
    not_after = min(now + dt.timedelta(days=days), issuer_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(region, "CA" if ca else "node"))
        .issuer_name(issuer_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        builder = builder.add_extension(_key_usage(ca=True), critical=True)
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(san_for(region))]), critical=False)
        )
    return builder.sign(issuer_key, hashes.SHA256())


def cert_region(cert: x509.Certificate) -> str | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for name in san.get_values_for_type(x509.DNSName):
        if (region := region_from_san(name)) is not None:
            return region
    return None


@dataclass(frozen=True)
class TlsMaterial:
    """PEM bytes gRPC needs: our key, our leaf + chain, and the trusted root."""

    key: bytes
    chain: bytes
    root: bytes

    @property
    def not_after(self) -> dt.datetime:
        return load_certs(self.chain)[0].not_valid_after_utc


@dataclass
class TestPki:
    """An in-memory national hierarchy for tests and benchmarks: root, province CAs, leaves."""

    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    cas: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]]

    @classmethod
    def create(cls) -> TestPki:
        key, cert = create_root_ca("000000")
        return cls(root_key=key, root_cert=cert, cas={"000000": (key, cert)})

    def issuer_for(
        self, region: str
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, list[x509.Certificate]]:
        parent = parent_of(region) or "000000"
        if parent not in self.cas:
            ca_key = ec_key()
            ca_cert = sign_csr(
                make_csr(ca_key, parent, ca=True),
                region=parent,
                issuer_key=self.root_key,
                issuer_cert=self.root_cert,
                ca=True,
            )
            self.cas[parent] = (ca_key, ca_cert)
        key, cert = self.cas[parent]
        chain = [] if parent == "000000" else [cert]
        return key, cert, chain

    def material(self, region: str, days: int = DEFAULT_LEAF_DAYS) -> TlsMaterial:
        issuer_key, issuer_cert, chain = self.issuer_for(region)
        key = ec_key()
        leaf = sign_csr(
            make_csr(key, region), region=region, issuer_key=issuer_key, issuer_cert=issuer_cert, days=days
        )
        return TlsMaterial(
            key=private_pem(key),
            chain=b"".join(cert_pem(c) for c in [leaf, *chain]),
            root=cert_pem(self.root_cert),
        )


def tls_dir(keys_dir: Path) -> Path:
    """The node's federation key directory (TLS files and signing keys, see the module doc)."""
    return keys_dir / "federation"


def enrolled(keys_dir: Path) -> bool:
    """Does the node hold its TLS certificate (enrolment done, the federation can run)?"""
    return (tls_dir(keys_dir) / "tls.crt").exists()


def load_material(keys_dir: Path) -> TlsMaterial:
    """Read the node's TLS key, leaf + chain and the national root from its key directory."""
    d = tls_dir(keys_dir)
    missing = [n for n in ("tls.key", "tls.crt", "root-ca.crt") if not (d / n).exists()]
    if missing:
        raise ValidationError(f"缺少 TLS 文件：{', '.join(missing)}（先完成 hotline admin enrol/import）")
    return TlsMaterial(
        key=(d / "tls.key").read_bytes(),
        chain=(d / "tls.crt").read_bytes(),
        root=(d / "root-ca.crt").read_bytes(),
    )
