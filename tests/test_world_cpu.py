"""The work the running world does per message (bench/world_throughput.py found where its time
went): DKIM signing by OpenSSL, not Python's `pow`; the public suffix list parsed once, not
several times for every message the MX checks."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import authheaders
import authheaders.dmarc_lookup
import dkim
import dkim.crypto
import pytest

from mua.stack import dkim_keys
from mua.stack.dkim_keys import DkimKeys
from mua.stack.mx_auth import arc_result
from mua.stack.world import World
from tests.conftest import eventually, maildir_messages
from tests.stackhelp import send


def _message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@a.test"
    msg["To"] = "bob@b.test"
    msg["Subject"] = "signed"
    msg["Date"] = "Fri, 04 Dec 2026 21:00:00 +0000"
    msg["Message-ID"] = "<cpu@a.test>"
    msg.set_content("Hello Bob.\n")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def test_rsa_signature_is_made_by_openssl_and_is_dkimpys_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = DkimKeys("a.test", tmp_path)
    python_rsa = []
    original = dkim.crypto.rsa_decrypt
    monkeypatch.setattr(dkim.crypto, "rsa_decrypt", lambda *a: python_rsa.append(1) or original(*a))
    signed = keys.sign(_message())
    assert python_rsa == []  # no RSA in Python's pow
    assert signed.count(b"DKIM-Signature:") == 2 and b"a=rsa-sha256" in signed

    # PKCS#1 v1.5 is deterministic: dkimpy's own code makes the very same bytes
    monkeypatch.setattr(dkim, "RSASSA_PKCS1_v1_5_sign", dkim_keys._dkimpy_rsa_sign)
    assert keys.sign(_message()) == signed
    assert python_rsa == [1]

    records = {f"{name}.".encode(): txt[0].encode() for name, txt in keys.txt_records().items()}
    rsa_only = signed.split(b"DKIM-Signature:", 2)
    rsa_signed = b"DKIM-Signature:" + rsa_only[2]  # the second signature is the RSA one
    assert b"a=rsa-sha256" in rsa_signed
    assert dkim.verify(rsa_signed, dnsfunc=lambda name, timeout=5: records.get(name))


async def test_the_mx_parses_the_public_suffix_list_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = []
    original = authheaders.dmarc_lookup.PublicSuffixList

    class Counted(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(authheaders.dmarc_lookup, "PublicSuffixList", Counted)

    async def deliver(subject: str, count: int) -> None:
        await send(world, "alice@a.test", ["bob@b.test"], subject=subject)
        await eventually(
            lambda: len(maildir_messages(world, "bob@b.test")) == count, what="delivery"
        )

    await deliver("first", 1)
    first = len(built)  # at most once for each domain asked about (From's, the signer's)
    assert first <= 2
    for i in range(3):
        await deliver(f"then {i}", 2 + i)
    assert len(built) == first  # before: twice more for every message
    checked = maildir_messages(world, "bob@b.test")
    assert all(b"dmarc=pass" in m.split(b"\r\n", 1)[0] for m in checked)


def test_the_arc_check_of_an_unsealed_message_is_authheaders_answer_without_its_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_dns(name: bytes | str, timeout: float = 5) -> None:
        return None

    unsealed = _message()
    expected = str(authheaders.check_arc(unsealed, None, dnsfunc=no_dns))
    assert expected == "arc=none (Message is not ARC signed)"
    asked = []
    original = authheaders.check_arc
    monkeypatch.setattr(
        authheaders, "check_arc", lambda *a, **k: asked.append(1) or original(*a, **k)
    )
    assert str(arc_result(unsealed, no_dns)) == expected
    assert asked == []
    # a message with an ARC set (here a broken one) is checked by authheaders
    sealed = b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=a.test; s=x; b=AAAA\r\n" + unsealed
    assert str(arc_result(sealed, no_dns)) == str(original(sealed, None, dnsfunc=no_dns))
    assert asked == [1]
