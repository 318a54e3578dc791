"""Older and vendor Received notations (issue #13 part 1), each from a real header.

Every sample below is a Received field as it was archived in public material, copied as found
(the source is named beside it): mailing-list archives, Apache SpamAssassin's parser notes and
tests, and a public mail-header write-up. Where no public example was found the test says so
and builds the field from the vendor's described format.

The rule they check (docs/architecture.md, "Headers into legs"): any statement of TLS in the
field, keyword or comment, means encrypted; "not encrypted" only where the field positively
says so; anything else is unknown.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mua.core.journey import trace_from_headers
from mua.core.legs import Grade, LegKind, Protocol
from mua.core.received import ProtocolFamily, parse_received
from mua.core.tls_facts import TlsMode

SMTP, LMTP, LOCAL = ProtocolFamily.SMTP, ProtocolFamily.LMTP, ProtocolFamily.LOCAL

# -- Cisco IronPort / Secure Email: the cipher in the keyword ----------------------------------

# Intel's IronPort relays, archived by a Linux kernel mailing list (9 Apr 2020).
IRONPORT_ECDHE = (
    "from orsmga003.jf.intel.com ([10.7.209.27])\n"
    "  by fmsmga103.fm.intel.com with ESMTP/TLS/ECDHE-RSA-AES256-GCM-SHA384;"
    " 09 Apr 2020 07:12:35 -0700"
)
# The same relays with DHE, archived by linux-kernel@vger.kernel.org (7 Oct 2019).
IRONPORT_DHE = (
    "from fmsmga008.fm.intel.com ([10.253.24.58])\n"
    "  by fmsmga103.fm.intel.com with ESMTP/TLS/DHE-RSA-AES256-GCM-SHA384;"
    " 07 Oct 2019 07:50:12 -0700"
)
# Microchip's cloud IronPort (iphmx.com), archived by a Linux kernel list (19 Aug 2022).
IRONPORT_CLOUD = (
    "from unknown (HELO email.microchip.com) ([170.129.1.10])\n"
    "  by esa6.microchip.iphmx.com with ESMTP/TLS/AES256-SHA256; 19 Aug 2022 06:20:11 -0700"
)


@pytest.mark.parametrize(
    ("value", "cipher", "by"),
    [
        (IRONPORT_ECDHE, "ECDHE-RSA-AES256-GCM-SHA384", "fmsmga103.fm.intel.com"),
        (IRONPORT_DHE, "DHE-RSA-AES256-GCM-SHA384", "fmsmga103.fm.intel.com"),
        (IRONPORT_CLOUD, "AES256-SHA256", "esa6.microchip.iphmx.com"),
    ],
)
def test_ironport_keyword_states_tls_and_its_cipher(value: str, cipher: str, by: str) -> None:
    hop = parse_received(value)
    assert hop.with_protocol == f"ESMTP/TLS/{cipher}" and hop.protocol is SMTP
    assert hop.tls.encrypted is True and hop.tls.cipher == cipher
    assert hop.tls.mode is TlsMode.UNKNOWN  # the keyword does not say STARTTLS or implicit
    assert hop.by_host == by and hop.date is not None


# -- Exim 3 and early Exim 4 -------------------------------------------------------------------

# Apache SpamAssassin, lib/Mail/SpamAssassin/Message/Metadata/Received.pm (a comment quoting a
# real sourceforge.net header of 20 Feb 2003).
EXIM3 = (
    "from dsl092-072-213.bos1.dsl.speakeasy.net ([66.92.72.213] helo=blazing.arsecandle.org)"
    " by sc8-sf-list1.sourceforge.net with esmtp (Cipher TLSv1:DES-CBC3-SHA:168)"
    " (Exim 3.31-VA-mm2 #1 (Debian)) id 18lyuU-0007TI-00"
    " for <SpamAssassin-talk@lists.sourceforge.net>; Thu, 20 Feb 2003 14:11:18 -0800"
)
# linux-mips.org archive, 7 May 2003 (Exim 3.35).
EXIM3_FOLDED = (
    "from localhost ([127.0.0.1])\n\tby tequila.rakia.org with esmtp \n"
    "\t(Cipher TLSv1:DES-CBC3-SHA:168) (Exim 3.35 #1 (Debian))\n"
    "\tid 19DISq-0000l5-00; Wed, 07 May 2003 09:31:41 +0300"
)
# Apache SpamAssassin, t/rcvd_parser.t (a hosteurope.de header of 27 Dec 2006, Exim 4.50).
EXIM4_HYPHEN = (
    "from server040.webpack.hosteurope.de ([80.237.130.48]:52313) by"
    " vps832469583.serverpool.info with esmtps (TLS-1.0:DHE_RSA_3DES_EDE_CBC_SHA:24)"
    " (Exim 4.50) id 1GzVLs-0002Oz-7b for axel@axelcity.de; Wed, 27 Dec 2006 10:45:49 +0100"
)
# git@vger.kernel.org archive, 22 Jun 2006: Exim 4.34 writes "asmtp" (no RFC 3848 keyword).
EXIM4_ASMTP = (
    "from amarseille-252-1-159-1.w86-216.abo.wanadoo.fr ([86.216.118.1]"
    " helo=bigip.bigip.mine.nu)\n\tby mx1.lost-oasis.net with asmtp"
    " (TLS-1.0:DHE_RSA_3DES_EDE_CBC_SHA:24)\n\t(Exim 4.34)\n"
    "\tid 1FtPom-0006Ht-8F; Thu, 22 Jun 2006 16:06:00 +0200"
)
# git@vger.kernel.org archive, 8 Jan 2007 (thunk.org, Exim 4.50).
EXIM4_LOCAL_ESMTPS = (
    "from root (helo=think.thunk.org)\n\tby thunker.thunk.org with local-esmtps \n"
    "\t(tls_cipher TLS-1.0:RSA_AES_256_CBC_SHA:32)  (Exim 4.50 #1 (Debian))\n"
    "\tid 1H3ugY-0003he-3U; Mon, 08 Jan 2007 08:37:10 -0500"
)


@pytest.mark.parametrize(
    ("value", "version", "cipher", "bits"),
    [
        (EXIM3, "TLSv1.0", "DES-CBC3-SHA", 168),
        (EXIM3_FOLDED, "TLSv1.0", "DES-CBC3-SHA", 168),
        (EXIM4_HYPHEN, "TLSv1.0", "DHE_RSA_3DES_EDE_CBC_SHA", 24),
        (EXIM4_ASMTP, "TLSv1.0", "DHE_RSA_3DES_EDE_CBC_SHA", 24),
        (EXIM4_LOCAL_ESMTPS, "TLSv1.0", "RSA_AES_256_CBC_SHA", 32),
    ],
)
def test_old_exim_cipher_comments(value: str, version: str, cipher: str, bits: int) -> None:
    hop = parse_received(value)
    assert hop.tls.encrypted is True  # "esmtp" without S, but the comment says TLS
    assert (hop.tls.version, hop.tls.cipher, hop.tls.bits) == (version, cipher, bits)
    assert hop.tls_version_text is None  # "TLSv1" and "TLS-1.0" name one version


def test_exim_local_esmtps_is_a_local_program() -> None:
    hop = parse_received(EXIM4_LOCAL_ESMTPS)
    assert hop.protocol is LOCAL and hop.by_host == "thunker.thunk.org"


# -- Courier -----------------------------------------------------------------------------------

# Apache SpamAssassin, Received.pm (a comment quoting a header of 28 Oct 2002): the form.
COURIER_SPACED = (
    "from Agni (localhost [::ffff:127.0.0.1]) (TLS: TLSv1/SSLv3, 168bits,DES-CBC3-SHA)"
    " by agni.forevermore.net with esmtp; Mon, 28 Oct 2002 14:48:52 -0800"
)
# A Linux kernel list archive, 27 Jan 2020 (cs.helsinki.fi): Courier writes the id after the date.
COURIER = (
    "from whs-18.cs.helsinki.fi (whs-18.cs.helsinki.fi [128.214.166.46])\n"
    " (TLS: TLSv1/SSLv3,256bits,AES256-GCM-SHA384)\n"
    " by mail.cs.helsinki.fi with ESMTPS; Mon, 27 Jan 2020 16:55:04 +0200\n"
    " id 00000000005A014E.000000005E2EF9C8.000048F2"
)
# git@vger.kernel.org archive, 7 Feb 2009: TLS inside the AUTH comment, keyword without S.
COURIER_AUTH = (
    "from perceptron (xdsl-78-34-175-56.netcologne.de [::ffff:78.34.175.56])\n"
    "  (IDENT: unknown, AUTH: LOGIN jast, TLS: TLSv1/SSLv3,256bits,AES256-SHA)\n"
    "  by cthulhu.zoidberg.org with esmtp; Sat, 07 Feb 2009 16:28:40 +0100\n"
    "  id 0042C5F7.498DA8A8.00004023"
)
# git@vger.kernel.org archive, 14 Jan 2018 (schokokeks.org): AUTH and TLS, ESMTPSA.
COURIER_AUTH_SA = (
    "from localhost ([::1])\n"
    "  (AUTH: PLAIN simon@ruderich.org, TLS: TLSv1/SSLv3,256bits,ECDHE-RSA-AES256-GCM-SHA384)\n"
    "  by zucker.schokokeks.org with ESMTPSA; Sun, 14 Jan 2018 10:38:46 +0100\n"
    "  id 0000000000000019.000000005A5B2526.000071EC"
)


@pytest.mark.parametrize(
    ("value", "cipher", "bits", "authenticated"),
    [
        (COURIER_SPACED, "DES-CBC3-SHA", 168, False),
        (COURIER, "AES256-GCM-SHA384", 256, False),
        (COURIER_AUTH, "AES256-SHA", 256, True),
        (COURIER_AUTH_SA, "ECDHE-RSA-AES256-GCM-SHA384", 256, True),
    ],
)
def test_courier_tls_comment(value: str, cipher: str, bits: int, authenticated: bool) -> None:
    hop = parse_received(value)
    assert hop.tls.encrypted is True and (hop.tls.cipher, hop.tls.bits) == (cipher, bits)
    # "TLSv1/SSLv3" is OpenSSL's name for a cipher of both: no single version, kept as written
    assert hop.tls.version is None and hop.tls_version_text == "TLSv1/SSLv3"
    assert hop.authenticated is authenticated


def test_courier_id_after_the_date_is_read() -> None:
    hop = parse_received(COURIER)
    assert hop.id == "00000000005A014E.000000005E2EF9C8.000048F2" and hop.date is not None


def test_the_version_text_reaches_the_leg_note() -> None:
    (leg,) = trace_from_headers([("Received", COURIER_AUTH)]).legs
    assert leg.tls.encrypted is True and leg.grade is not Grade.RED
    assert "TLSv1/SSLv3" in leg.note


# -- Mimecast, CommuniGate Pro, punctuation ----------------------------------------------------

# qemu-devel@nongnu.org archive, 30 Aug 2020: "(Using TLS)" before "by".
MIMECAST = (
    "from mail-wr1-f70.google.com (mail-wr1-f70.google.com\n [209.85.221.70]) (Using TLS) by"
    " relay.mimecast.com with ESMTP id\n us-mta-262-S_S__INcN4iEWMPkqUQorg-1;"
    " Sun, 30 Aug 2020 05:37:14 -0400"
)
# git@vger.kernel.org archive, Message-ID <466EBB1B.9060405@gmail.com> (12 Jun 2007).
COMMUNIGATE = (
    "from [193.205.82.7] (HELO gandalf.sssup.it)\n  by sssup.it (CommuniGate Pro SMTP 4.1.8)\n"
    "  with ESMTP-TLS id 31100891 for git@vger.kernel.org; Tue, 12 Jun 2007 17:18:31 +0200"
)
# git@vger.kernel.org archive, 7 Jan 2007 (1&1's Nemesis): a comma after the comment.
NEMESIS = (
    "from [84.134.15.225] (helo=scotty.home)\n"
    "\tby mrelayeu.kundenserver.de (node=mrelayeu5) with ESMTP (Nemesis),\n"
    "\tid 0ML25U-1H3W5N0wrG-0001Vz; Sun, 07 Jan 2007 12:21:09 +0100"
)


def test_mimecast_using_tls_means_encrypted() -> None:
    hop = parse_received(MIMECAST)
    assert hop.with_protocol == "ESMTP" and hop.by_host == "relay.mimecast.com"
    assert hop.tls.encrypted is True and hop.tls.mode is TlsMode.UNKNOWN
    assert hop.id == "us-mta-262-S_S__INcN4iEWMPkqUQorg-1"


def test_communigate_tls_keyword() -> None:
    hop = parse_received(COMMUNIGATE)
    assert hop.with_protocol == "ESMTP-TLS" and hop.protocol is SMTP
    assert hop.tls.encrypted is True and hop.id == "31100891"
    assert hop.for_address == "git@vger.kernel.org"


def test_punctuation_after_the_keyword_is_no_part_of_it() -> None:
    hop = parse_received(NEMESIS)
    assert hop.with_protocol == "ESMTP" and hop.protocol is SMTP
    assert hop.id == "0ML25U-1H3W5N0wrG-0001Vz"
    # a plain RFC 3848 keyword and no TLS comment anywhere: the header says cleartext
    assert hop.tls.encrypted is False and hop.tls.mode is TlsMode.NONE


def test_a_tls_comment_after_the_date_still_counts() -> None:
    """No public example of the IBM gateways' form was found; built from the issue's
    description (a TLS comment after the `;` that starts the date), in Sendmail's pairs."""
    hop = parse_received(
        "from mail.example.org (mail.example.org [192.0.2.10]) by gw.example.com with ESMTP"
        " id 3Abc; Mon, 10 Jun 2024 12:34:56 +0000 (version=TLSv1.2"
        " cipher=ECDHE-RSA-AES256-GCM-SHA384)"
    )
    assert hop.tls.encrypted is True and hop.tls.version == "TLSv1.2"
    assert hop.tls.cipher == "ECDHE-RSA-AES256-GCM-SHA384" and hop.date is not None


# -- Cyrus LMTPA -------------------------------------------------------------------------------

# py4e's mbox-short.txt (https://www.py4e.com/code3/mbox-short.txt), 5 Jan 2008.
CYRUS = (
    "from murder (mail.umich.edu [141.211.14.90])\n"
    "\t by frankenstein.mail.umich.edu (Cyrus v2.3.8) with LMTPA;\n"
    "\t Sat, 05 Jan 2008 09:14:16 -0500"
)
# An ubuntu-security-announce message of 21 Dec 2016 as kept in a public mail library's tests.
CYRUS_SOCKET = (
    "from mogul.quuxo.net ([unix socket])\r\n"
    "\t by mogul (Cyrus v2.4.12-Debian-2.4.12-2) with LMTPA;\r\n"
    "\t Wed, 21 Dec 2016 06:54:03 +1030"
)


def test_cyrus_lmtpa_is_an_authenticated_delivery_not_a_submission() -> None:
    hop = parse_received(CYRUS)
    assert hop.protocol is LMTP and hop.authenticated is True
    (leg,) = trace_from_headers([("Received", CYRUS)]).legs
    assert leg.kind is LegKind.DELIVERY and leg.protocol is Protocol.LMTP
    assert "authenticated LMTP" in leg.note


def test_cyrus_over_a_unix_socket_is_internal() -> None:
    hop = parse_received(CYRUS_SOCKET)
    assert hop.local_socket and hop.by_host == "mogul"
    (leg,) = trace_from_headers([("Received", CYRUS_SOCKET)]).legs
    assert leg.kind is LegKind.DELIVERY and leg.grade is Grade.INTERNAL


# -- Gmail's internal records ------------------------------------------------------------------

# qianweicheng/hello-world, protocol/email/security/demo.md: a message to a Google Workspace
# mailbox, 31 Jan 2020 (the top two Received fields, X-Received and ARC fields left out).
GMAIL_CHAIN = [
    (
        "Received",
        "by 2002:a0c:c44a:0:0:0:0:0 with SMTP id t10csp190775qvi;\n"
        "        Fri, 31 Jan 2020 19:11:49 -0800 (PST)",
    ),
    (
        "Received",
        "from a27-116.smtp-out.us-west-2.amazonses.com"
        " (a27-116.smtp-out.us-west-2.amazonses.com. [54.240.27.116])\n"
        "        by mx.google.com with ESMTPS id s8si1925252pji.72.2020.01.31.19.11.48\n"
        "        for <weicheng@edison.tech>\n"
        "        (version=TLS1_2 cipher=ECDHE-RSA-AES128-SHA bits=128/128);\n"
        "        Fri, 31 Jan 2020 19:11:49 -0800 (PST)",
    ),
]
# linux-mailinglist-archives/linux-mips.vger.kernel.org.0: Gmail's outbound step, 22 Feb 2022.
GMAIL_OUTBOUND = (
    "by mail-yw1-x1144.google.com with SMTP id 00721157ae682-2d07ae0b1c4so171430737b3.11\n"
    "        for <linux-mips@vger.kernel.org>; Tue, 22 Feb 2022 04:27:40 -0800 (PST)"
)


def test_gmail_internal_record_is_not_a_red_relay() -> None:
    relay, internal = trace_from_headers(GMAIL_CHAIN).legs
    assert relay.grade is Grade.AMBER and relay.tls.version == "TLSv1.2"
    assert internal.protocol is Protocol.INTERNAL and internal.grade is Grade.INTERNAL
    assert internal.from_.host is None  # no sending host: the record names none
    assert "names no sending host" in internal.note
    assert internal.with_keyword == "SMTP"
    # "with SMTP" says nothing of a network that was not crossed: unknown, not cleartext
    assert internal.tls.encrypted is None


def test_gmail_outbound_record_without_from_is_internal() -> None:
    hop = parse_received(GMAIL_OUTBOUND)
    assert not hop.has_from and hop.by_host == "mail-yw1-x1144.google.com"
    (leg,) = trace_from_headers([("Received", GMAIL_OUTBOUND)]).legs
    assert leg.grade is Grade.INTERNAL and leg.kind is LegKind.HANDOFF


# -- the evidence on each leg, in JSON ---------------------------------------------------------


def test_header_legs_carry_the_keyword_and_the_header_text() -> None:
    fields = [("Received", COMMUNIGATE), ("Received", IRONPORT_DHE)]
    trace = trace_from_headers(fields)
    first, second = trace.to_json()["legs"]
    assert first["with"] == "ESMTP/TLS/DHE-RSA-AES256-GCM-SHA384"
    assert first["header"] == " ".join(IRONPORT_DHE.split())
    assert second["with"] == "ESMTP-TLS" and second["header"].startswith("from [193.205.82.7]")
    assert [leg["tls"]["encrypted"] for leg in (first, second)] == [True, True]


def test_trace_json_through_the_cli(tmp_path: Path, capsys) -> None:
    import json

    from mua.cli import main

    eml = tmp_path / "gmail.eml"
    lines = [f"{k}: {v}" for k, v in GMAIL_CHAIN] + ["Subject: s", "", "body", ""]
    eml.write_text("\r\n".join(lines))
    assert main(["trace", str(eml), "--json"]) == 0
    relay, internal = json.loads(capsys.readouterr().out)["legs"]
    assert relay["with"] == "ESMTPS" and "by mx.google.com" in relay["header"]
    assert internal["with"] == "SMTP" and internal["header"].startswith("by 2002:a0c:c44a")
    assert internal["grade"] == "internal" and relay["grade"] == "amber"


# A Gmail webmail message archived by a Linux kernel list (12 May 2023): no from clause either,
# but the oldest field and HTTP, so it stays the submission (MUA -> MSA), TLS not said.
GMAIL_WEBMAIL = (
    "by 2002:a05:6a10:c64b:b0:47b:66fa:94f3 with HTTP; Fri, 12 May 2023\n 02:06:50 -0700 (PDT)"
)


def test_gmail_webmail_submission_stays_a_submission() -> None:
    (leg,) = trace_from_headers([("Received", GMAIL_WEBMAIL)]).legs
    assert leg.kind is LegKind.SUBMISSION and leg.grade is Grade.UNKNOWN
    assert leg.with_keyword == "HTTP"


def test_the_evidence_survives_the_event_log_and_the_cache() -> None:
    from mua.core.legs import Leg

    for leg in trace_from_headers([*GMAIL_CHAIN, ("Received", COURIER_AUTH)]).legs:
        assert Leg.from_json(leg.to_record(1)) == leg and leg.header is not None
