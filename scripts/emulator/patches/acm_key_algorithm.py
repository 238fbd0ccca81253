# ---- Patch: ACM KeyAlgorithm of requested certificates ------------------------
#
# moto gap: moto 5.2.5's RequestCertificate ignores KeyAlgorithm: every
# certificate it issues has an RSA 2048 key (DescribeCertificate says RSA_2048),
# and ListCertificates without Includes lists certificates of every key type.
# On AWS, RequestCertificate takes KeyAlgorithm RSA_2048 (the default),
# EC_prime256v1 or EC_secp384r1 (any other value: ValidationException), the
# certificate's key is of that type, and ListCertificates without
# Includes.keyTypes lists only RSA_2048 certificates. This passes the requested
# algorithm to moto's certificate generation (an EC key on the named curve,
# signed with SHA-256) and filters ListCertificates as AWS does. Keeps no state
# of its own (the algorithm travels with the request, in a thread-local).

from __future__ import annotations

import datetime
import threading
from typing import Any

from ..context import PatchContext
from . import register

ALGORITHMS = ("RSA_2048", "EC_prime256v1", "EC_secp384r1")
_REQUEST = threading.local()


@register
def patch_acm_key_algorithm(ctx: PatchContext) -> None:
    import cryptography.x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import DNSName, NameOID
    from moto.acm.exceptions import AWSValidationException
    from moto.acm.models import AWSCertificateManagerBackend, CertBundle
    from moto.acm.responses import AWSCertificateManagerResponse
    from moto.core.utils import utcnow

    original_request = AWSCertificateManagerResponse.request_certificate
    if getattr(original_request, "hms_patched", False):
        return

    def request_certificate(self):  # type: ignore[no-untyped-def]
        algorithm = self._get_param("KeyAlgorithm") or "RSA_2048"
        if algorithm not in ALGORITHMS:
            raise AWSValidationException(
                f"1 validation error detected: Value '{algorithm}' at 'keyAlgorithm' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(ALGORITHMS)}]")
        _REQUEST.algorithm = algorithm
        try:
            return original_request(self)
        finally:
            _REQUEST.algorithm = None

    request_certificate.hms_patched = True  # type: ignore[attr-defined]
    AWSCertificateManagerResponse.request_certificate = request_certificate  # type: ignore[method-assign]

    original_generate = CertBundle.generate_cert.__func__  # type: ignore[attr-defined]

    def generate_cert(cls, domain_name: str, account_id: str, region: str, sans: list[str] | None = None,  # type: ignore[no-untyped-def]
                      cert_authority_arn: str | None = None):
        algorithm = getattr(_REQUEST, "algorithm", None) or "RSA_2048"
        if not algorithm.startswith("EC_") or cert_authority_arn is not None:
            return original_generate(cls, domain_name, account_id, region, sans, cert_authority_arn)
        curve = ec.SECP256R1() if algorithm == "EC_prime256v1" else ec.SECP384R1()
        key = ec.generate_private_key(curve)
        names = sorted(set(sans or []) | {domain_name})
        subject = cryptography.x509.Name([cryptography.x509.NameAttribute(NameOID.COMMON_NAME, domain_name)])
        issuer = cryptography.x509.Name([
            cryptography.x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            cryptography.x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon"),
            cryptography.x509.NameAttribute(NameOID.COMMON_NAME, "Amazon ECDSA 256 M01"),
        ])
        cert = (
            cryptography.x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(cryptography.x509.random_serial_number())
            .not_valid_before(utcnow())
            .not_valid_after(utcnow() + datetime.timedelta(days=395))
            .add_extension(cryptography.x509.SubjectAlternativeName([DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(
            certificate=cert.public_bytes(serialization.Encoding.PEM),
            private_key=key.private_bytes(
                encoding=serialization.Encoding.PEM,
                format=serialization.PrivateFormat.TraditionalOpenSSL,
                encryption_algorithm=serialization.NoEncryption(),
            ),
            cert_type="AMAZON_ISSUED",
            cert_status="PENDING_VALIDATION",
            account_id=account_id,
            region=region,
        )

    CertBundle.generate_cert = classmethod(generate_cert)  # type: ignore[method-assign,assignment]

    original_list = AWSCertificateManagerBackend.list_certificates

    def list_certificates(self, statuses: list[str], includes: dict[str, Any]):  # type: ignore[no-untyped-def]
        if not includes or "keyTypes" not in includes:
            includes = {**(includes or {}), "keyTypes": ["RSA_2048"]}
        return original_list(self, statuses, includes)

    AWSCertificateManagerBackend.list_certificates = list_certificates  # type: ignore[method-assign]
