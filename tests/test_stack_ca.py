"""The world's CA: certificates real verifiers accept, kept across restarts."""

from __future__ import annotations

import datetime as dt
import ssl

from mua.net.tls import verify_certificate
from mua.stack.ca import LocalCA


def _der(ca: LocalCA, name: str, **kwargs) -> bytes:
    return ssl.PEM_cert_to_DER_cert(ca.server_cert(name, **kwargs).cert_file.read_text())


def test_certificates_pass_a_strict_rfc5280_verifier(tmp_path) -> None:
    ca = LocalCA(tmp_path)
    assert verify_certificate(_der(ca, "mx.b.test"), "mx.b.test", ca.ca_file) == (True, "verified")


def test_wrong_name_expired_and_foreign_certificates_are_not_verified(tmp_path) -> None:
    ca = LocalCA(tmp_path / "ours")
    ok, reason = verify_certificate(_der(ca, "mx.b.test"), "mx.c.test", ca.ca_file)
    assert (ok, reason) == (False, "it names mx.b.test, not mx.c.test")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    ok, reason = verify_certificate(
        _der(ca, "old.b.test", not_after=past), "old.b.test", ca.ca_file
    )
    assert not ok
    assert reason.startswith("it expired on ")
    stranger = LocalCA(tmp_path / "theirs")
    ok, reason = verify_certificate(_der(stranger, "mx.b.test"), "mx.b.test", ca.ca_file)
    assert not ok
    assert reason.startswith("it is not signed by a trusted authority")


def test_certificates_name_the_loopback_address_for_clients_that_connect_by_it(tmp_path) -> None:
    ca = LocalCA(tmp_path)
    cert = ca.server_cert("smtp.a.test").certificate()
    text = str(cert.extensions)
    assert "smtp.a.test" in text and "127.0.0.1" in text


def test_ca_and_keys_are_reused_and_a_reissue_keeps_the_key(tmp_path) -> None:
    first = LocalCA(tmp_path)
    pin = first.server_cert("mx.b.test").spki_sha256()
    pem = first.server_cert("mx.b.test").cert_file.read_bytes()
    again = LocalCA(tmp_path)
    assert again.ca_file.read_bytes() == first.ca_file.read_bytes()
    assert again.server_cert("mx.b.test").cert_file.read_bytes() == pem  # not reissued
    reissued = again.server_cert("mx.b.test", reissue=True)
    assert reissued.cert_file.read_bytes() != pem
    assert reissued.spki_sha256() == pin
    assert oct((tmp_path / "ca.key").stat().st_mode & 0o777) == "0o600"


def test_names_that_share_a_prefix_get_their_own_certificate(tmp_path) -> None:
    ca = LocalCA(tmp_path)
    a, b = ca.server_cert("smtp.a.test"), ca.server_cert("smtp.a.example")
    assert a.cert_file != b.cert_file and a.key_file != b.key_file
    assert a.spki_sha256() != b.spki_sha256()
