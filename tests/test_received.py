"""Received headers as real MTAs write them, read into hops; garbage and folding never crash.

The samples follow each MTA's real format (see mua/core/received.py's docstring) with
documentation-only names and addresses (RFC 2606, RFC 5737, RFC 3849, RFC 5398).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mua.core.received import (
    ProtocolFamily,
    ReceivedHop,
    normalise_protocol,
    parse_received,
    received_hops,
)
from mua.core.tls_facts import TlsFacts, TlsMode, normalise_tls_version
from mua.stack.received_writer import received_header, with_keyword

SMTP, LMTP, HTTP = ProtocolFamily.SMTP, ProtocolFamily.LMTP, ProtocolFamily.HTTP
STARTTLS, UNKNOWN, NONE, IMPLICIT = (
    TlsMode.STARTTLS,
    TlsMode.UNKNOWN,
    TlsMode.NONE,
    TlsMode.IMPLICIT,
)


def at(text: str) -> datetime:
    """'2024-06-10 12:34:56 +0000' as an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")


def tls(encrypted, mode, version=None, cipher=None, bits=None, verified=None) -> TlsFacts:
    return TlsFacts(encrypted, mode, version, cipher, bits, verified)


CLEAR = tls(False, NONE)
NOT_SAID = TlsFacts.unknown()

# (name, header value, expected fields). Every listed field is checked; from_* default None.
SAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "postfix inbound TLSv1.3 with key-exchange details",
        "from mail.example.org (mail.example.org [192.0.2.10])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n"
        "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\r\n"
        "\t(No client certificate requested)\r\n"
        "\tby mx.example.com (Postfix) with ESMTPS id 4W1x2Y3z4Bz9sQ\r\n"
        "\tfor <carol@example.com>; Mon, 10 Jun 2024 12:34:56 +0000 (UTC)",
        dict(
            from_helo="mail.example.org",
            from_host="mail.example.org",
            from_address="192.0.2.10",
            by_host="mx.example.com",
            with_protocol="ESMTPS",
            protocol=SMTP,
            id="4W1x2Y3z4Bz9sQ",
            for_address="carol@example.com",
            date=at("2024-06-10 12:34:56 +0000"),
            tls=tls(True, STARTTLS, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
            authenticated=False,
        ),
    ),
    (
        "postfix submission, no reverse name, authenticated sender",
        "from [192.0.2.200] (unknown [198.51.100.23])\n"
        "\t(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits))\n"
        "\t(No client certificate requested)\n"
        "\t(Authenticated sender: dave@example.net)\n"
        "\tby smtp.example.net (Postfix) with ESMTPSA id 0A1B2C3D4E\n"
        "\tfor <erin@example.org>; Tue, 11 Jun 2024 08:00:01 +0200 (CEST)",
        dict(
            from_helo="[192.0.2.200]",
            from_host=None,
            from_host_unknown=True,
            from_address="198.51.100.23",
            by_host="smtp.example.net",
            with_protocol="ESMTPSA",
            id="0A1B2C3D4E",
            for_address="erin@example.org",
            date=at("2024-06-11 08:00:01 +0200"),
            tls=tls(True, UNKNOWN, "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256),
            authenticated=True,
        ),
    ),
    (
        "postfix in clear",
        "from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.com (Postfix) "
        "with ESMTP id 4W1x2Y3z4Bz9sR for <carol@example.com>; Mon, 10 Jun 2024 12:34:56 +0000",
        dict(with_protocol="ESMTP", tls=CLEAR, authenticated=False, protocol=SMTP),
    ),
    (
        "postfix, old OpenSSL name TLSv1 means 1.0",
        "from old.example.org (old.example.org [192.0.2.11])\n"
        "\t(using TLSv1 with cipher DHE-RSA-AES256-SHA (256/256 bits))\n"
        "\tby mx.example.com (Postfix) with ESMTPS id 3F2E1D; Fri, 3 Aug 2012 04:24:40 -0400",
        dict(tls=tls(True, STARTTLS, "TLSv1.0", "DHE-RSA-AES256-SHA", 256)),
    ),
    (
        "ambiguous TLSv1/SSLv3 stays null, still encrypted",
        "from old.example.org (old.example.org [192.0.2.11])\n"
        "\t(using TLSv1/SSLv3 with cipher DHE-RSA-AES256-SHA (256/256 bits))\n"
        "\tby mx.example.com (Postfix) with ESMTPS id 3F2E1E; Fri, 3 Aug 2012 04:24:40 -0400",
        dict(tls=tls(True, STARTTLS, None, "DHE-RSA-AES256-SHA", 256)),
    ),
    (
        "exim 4.96 inbound, reverse name first, helo inside, RFC 8314 tls clause",
        "from mail.example.org ([192.0.2.10] helo=relay.example.org)\n"
        "\tby mx.example.com with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384\n"
        "\t(Exim 4.96)\n"
        "\t(envelope-from <sender@example.org>)\n"
        "\tid 1qAbCd-000123-4X\n"
        "\tfor carol@example.com;\n"
        "\tMon, 10 Jun 2024 12:34:56 +0000",
        dict(
            from_helo="relay.example.org",
            from_host="mail.example.org",
            from_address="192.0.2.10",
            by_host="mx.example.com",
            with_protocol="esmtps",
            protocol=SMTP,
            id="1qAbCd-000123-4X",
            for_address="carol@example.com",
            date=at("2024-06-10 12:34:56 +0000"),
            tls=tls(True, STARTTLS, "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
            authenticated=False,
        ),
    ),
    (
        "exim submission, address first with port, helo literal",
        "from [203.0.113.7]:53712 (port=53712 helo=[192.0.2.201])\n"
        "\tby smtp.example.org with esmtpsa  (TLS1.3) tls TLS_AES_128_GCM_SHA256\n"
        "\t(Exim 4.97)\n"
        "\t(envelope-from <frank@example.org>)\n"
        "\tid 1sGh7K-0004Qz-2b;\n"
        "\tWed, 12 Jun 2024 09:15:00 +0100",
        dict(
            from_helo="[192.0.2.201]",
            from_host=None,
            from_host_unknown=True,
            from_address="203.0.113.7",
            with_protocol="esmtpsa",
            tls=tls(True, UNKNOWN, "TLSv1.3", "TLS_AES_128_GCM_SHA256"),
            authenticated=True,
            date=at("2024-06-12 09:15:00 +0100"),
        ),
    ),
    (
        "exim before 4.92: version:cipher:bits",
        "from mail.example.org ([192.0.2.10])\n"
        "\tby mx.example.com with esmtps (TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256)\n"
        "\t(Exim 4.89) (envelope-from <sender@example.org>) id 1fAbCd-0001Ab-Cd\n"
        "\tfor carol@example.com; Tue, 03 Jul 2018 10:00:00 +0000",
        dict(
            from_helo="mail.example.org",
            tls=tls(True, STARTTLS, "TLSv1.2", "ECDHE_RSA_AES_256_GCM_SHA384", 256),
        ),
    ),
    (
        "exim local submission",
        "from frank by host.example.org with local (Exim 4.96)\n"
        "\t(envelope-from <frank@host.example.org>) id 1sGh7K-0004Qz-2c;\n"
        "\tWed, 12 Jun 2024 09:14:59 +0100",
        dict(protocol=ProtocolFamily.LOCAL, with_protocol="local", tls=NOT_SAID),
    ),
    (
        "sendmail inbound, nested (may be forged), verify=NOT",
        "from mail.example.org (mail.example.org [192.0.2.10] (may be forged))\n"
        "\tby mx.example.net (8.17.1.9/8.17.1.9) with ESMTPS id 45ACYuXk012345\n"
        "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)\n"
        "\tfor <grace@example.net>; Mon, 10 Jun 2024 12:34:56 -0400",
        dict(
            from_helo="mail.example.org",
            from_host="mail.example.org",
            from_address="192.0.2.10",
            by_host="mx.example.net",
            id="45ACYuXk012345",
            for_address="grace@example.net",
            date=at("2024-06-10 12:34:56 -0400"),
            tls=tls(True, STARTTLS, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, False),
            authenticated=False,
        ),
    ),
    (
        "sendmail submission, (authenticated bits=0), verify=OK",
        "from [192.0.2.202] (IDENT:heidi@host.example.com [198.51.100.40])\n"
        "\t(authenticated bits=0)\n"
        "\tby smtp.example.com (8.17.1/8.17.1) with ESMTPSA id 45AFoo01012345\n"
        "\t(version=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256 bits=128 verify=OK)\n"
        "\tfor <ivan@example.org>; Mon, 10 Jun 2024 09:00:00 -0700",
        dict(
            from_helo="[192.0.2.202]",
            from_host="host.example.com",
            from_address="198.51.100.40",
            tls=tls(True, UNKNOWN, "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 128, True),
            authenticated=True,
        ),
    ),
    (
        "sendmail verify=FAIL",
        "from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.net "
        "(8.17.1/8.17.1) with ESMTPS id 45B (version=TLSv1.2 cipher=AES256-GCM-SHA384 "
        "bits=256 verify=FAIL); Mon, 10 Jun 2024 12:00:00 +0000",
        dict(tls=tls(True, STARTTLS, "TLSv1.2", "AES256-GCM-SHA384", 256, False)),
    ),
    (
        "sendmail local submission: only a comment",
        "(from ivan@localhost) by host.example.com (8.17.1/8.17.1/Submit) id 45AG0001012345;\n"
        "\tMon, 10 Jun 2024 09:00:00 -0700",
        dict(by_host="host.example.com", id="45AG0001012345", with_protocol=None, tls=NOT_SAID),
    ),
    (
        "gmail inbound",
        "from mail.example.org (mail.example.org. [192.0.2.10])\n"
        "        by mx.mail.example.com with ESMTPS id a1b2c3d4e5f6-12345abcde.100.2024.06.10\n"
        "        for <judy@example.com>\n"
        "        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\n"
        "        Mon, 10 Jun 2024 05:34:56 -0700 (PDT)",
        dict(
            from_helo="mail.example.org",
            from_host="mail.example.org",
            from_address="192.0.2.10",
            by_host="mx.mail.example.com",
            for_address="judy@example.com",
            date=at("2024-06-10 05:34:56 -0700"),
            tls=tls(True, STARTTLS, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
        ),
    ),
    (
        "gmail submission",
        "from [192.0.2.203] ([203.0.113.9])\n"
        "        by smtp.mail.example.com with ESMTPSA id x12-20020a05600c000000b004212345sma\n"
        "        for <judy@example.com>\n"
        "        (version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128);\n"
        "        Mon, 10 Jun 2024 05:34:50 -0700 (PDT)",
        dict(
            from_address="203.0.113.9",
            tls=tls(True, UNKNOWN, "TLSv1.3", "TLS_AES_128_GCM_SHA256", 128),
            authenticated=True,
        ),
    ),
    (
        "gmail SMTPS with Google Transport Security: encrypted, mode not said",
        "from mail-sor-f41.example.com (mail-sor-f41.example.com. [198.51.100.41])\n"
        "        by mx.mail.example.com with SMTPS id 5sor691105qtt.46.2019.03.19.16.26.59\n"
        "        for <judy@example.com>\n"
        "        (Google Transport Security);\n"
        "        Tue, 19 Mar 2019 16:26:59 -0700 (PDT)",
        dict(with_protocol="SMTPS", protocol=SMTP, tls=tls(True, UNKNOWN), authenticated=False),
    ),
    (
        "gmail internal hop: by an IPv6 address, no from",
        "by 2001:db8:6a10:1234::1 with SMTP id x12csp1234567abc;\n"
        "        Mon, 10 Jun 2024 05:34:57 -0700 (PDT)",
        dict(by_host="2001:db8:6a10:1234::1", id="x12csp1234567abc", tls=CLEAR),
    ),
    (
        "gmail webmail: HTTP says nothing about TLS",
        "by 2001:db8::2 with HTTP; Mon, 10 Jun 2024 05:34:40 -0700",
        dict(protocol=HTTP, with_protocol="HTTP", tls=NOT_SAID, authenticated=None),
    ),
    (
        "gmail HTTPREST",
        "by 2001:db8::3 with HTTPREST; Mon, 10 Jun 2024 05:34:40 -0700",
        dict(protocol=HTTP, tls=NOT_SAID),
    ),
    (
        "microsoft frontend, version and cipher",
        "from mail.example.org (192.0.2.10) by\n"
        " EX01.example.com (198.51.100.5) with Microsoft SMTP Server\n"
        " (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id\n"
        " 15.20.7633.15 via Frontend Transport; Mon, 10 Jun 2024 12:34:56 +0000",
        dict(
            from_helo="mail.example.org",
            from_address="192.0.2.10",
            by_host="EX01.example.com",
            with_protocol="Microsoft SMTP Server",
            protocol=SMTP,
            id="15.20.7633.15",
            tls=tls(True, UNKNOWN, "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            authenticated=None,
        ),
    ),
    (
        "microsoft internal, IPv6 without brackets, (TLS)",
        "from EX01.example.com (2001:db8:208:1::1) by EX02.example.com (2001:db8:208:1::2)\n"
        " with Microsoft SMTP Server (TLS) id 15.0.1497.2; Mon, 10 Jun 2024 12:34:57 +0000",
        dict(
            from_address="2001:db8:208:1::1",
            by_host="EX02.example.com",
            tls=tls(True, UNKNOWN),
        ),
    ),
    (
        "microsoft without a TLS comment: not said",
        "from EX01.example.com (198.51.100.5) by EX02.example.com (198.51.100.6)\n"
        " with Microsoft SMTP Server id 14.3.123.3; Mon, 10 Jun 2024 12:34:58 +0000",
        dict(with_protocol="Microsoft SMTP Server", tls=NOT_SAID),
    ),
    (
        "microsoft mapi, scoped IPv6 literals",
        "from DB7PR01MB1234.prod.example.com ([2001:db8::1c2b%5]) by\n"
        " DB7PR01MB1234.prod.example.com ([2001:db8::1c2b%5]) with mapi id\n"
        " 15.20.7633.021; Mon, 10 Jun 2024 12:34:50 +0000",
        dict(
            from_address="2001:db8::1c2b%5",
            protocol=ProtocolFamily.MAPI,
            with_protocol="mapi",
            id="15.20.7633.021",
            tls=NOT_SAID,
        ),
    ),
    (
        "microsoft HTTPS (Outlook on the web): implicit TLS",
        "from [192.0.2.204] by mail.example.com with HTTPS; Mon, 10 Jun 2024 12:34:49 +0000",
        dict(from_address="192.0.2.204", protocol=HTTP, tls=tls(True, IMPLICIT)),
    ),
    (
        "opensmtpd inbound, peer certificate not verified",
        "from mail.example.org (mail.example.org [192.0.2.10])\n"
        "\tby mx.example.net (OpenSMTPD) with ESMTPS id 1a2b3c4d "
        "(TLSv1.3:TLS_AES_256_GCM_SHA384:256:NO)\n"
        "\tfor <kim@example.net>;\n"
        "\tMon, 10 Jun 2024 12:34:56 +0000 (UTC)",
        dict(
            from_host="mail.example.org",
            id="1a2b3c4d",
            for_address="kim@example.net",
            tls=tls(True, STARTTLS, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, False),
        ),
    ),
    (
        "opensmtpd submission without a from clause, verified YES",
        "\n\tby vm-mail.example.net (OpenSMTPD) with ESMTPSA id 482bd64b "
        "(TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384:256:YES);\n\tWed, 6 Dec 2023 12:38:51 +0000 (UTC)",
        dict(
            by_host="vm-mail.example.net",
            tls=tls(True, UNKNOWN, "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256, True),
            authenticated=True,
        ),
    ),
    (
        "qmail: a bare line says nothing",
        "(qmail 12345 invoked by uid 89); 10 Jun 2024 12:34:56 -0000",
        dict(tls=NOT_SAID, with_protocol=None, date=at("2024-06-10 12:34:56 +0000")),
    ),
    (
        "qmail in clear, HELO differs, reverse lookup failed",
        "from unknown (HELO mail.example.org) (192.0.2.10)\n"
        "  by mx.example.com with SMTP; 10 Jun 2024 12:34:56 -0000",
        dict(
            from_helo="mail.example.org",
            from_host=None,
            from_host_unknown=True,
            from_address="192.0.2.10",
            tls=CLEAR,
        ),
    ),
    (
        "qpsmtpd / old qmail-tls: (CIPHER encrypted) SMTP",
        "from relay.example.org (HELO relay.example.org) (192.0.2.12)\n"
        " by mx.example.com (qpsmtpd/0.94) with (ECDHE-RSA-AES256-GCM-SHA384 encrypted) SMTP;"
        " Sat, 22 Sep 2018 15:52:48 -0400",
        dict(
            from_helo="relay.example.org",
            from_host="relay.example.org",
            with_protocol="SMTP",
            tls=tls(True, UNKNOWN, cipher="ECDHE-RSA-AES256-GCM-SHA384"),
        ),
    ),
    (
        "qmail-tls: ESMTPS (CIPHER encrypted)",
        "from unknown (HELO relay.example.org) (198.51.100.12)\n"
        "  by mx.example.com with ESMTPS (DHE-RSA-AES256-SHA encrypted); 1 Jan 2010 10:00:00 -0000",
        dict(tls=tls(True, STARTTLS, cipher="DHE-RSA-AES256-SHA")),
    ),
    (
        "haraka inbound: envelope-from clause and RFC 8314 tls clause",
        "from mail.example.org (mail.example.org [192.0.2.10])\r\n"
        "\tby mx.example.com (Haraka/3.0.3) with ESMTPS id 5F1E2D3C-4B5A-6978-8A9B-0C1D2E3F4A5B.1"
        "\r\n\tenvelope-from <liam@example.org>\r\n"
        "\ttls TLS_AES_256_GCM_SHA384;\r\n"
        "\tMon, 10 Jun 2024 12:34:56 +0000",
        dict(
            from_host="mail.example.org",
            by_host="mx.example.com",
            id="5F1E2D3C-4B5A-6978-8A9B-0C1D2E3F4A5B.1",
            tls=tls(True, STARTTLS, cipher="TLS_AES_256_GCM_SHA384"),
            authenticated=False,
        ),
    ),
    (
        "haraka submission: auth comment after the tls clause",
        "from [192.0.2.205] (unknown [203.0.113.20])\r\n"
        "\tby smtp.example.com (Haraka/3.0.3) with ESMTPSA id 6A7B8C9D-0000-1111-2222-33334444.1"
        "\r\n\tenvelope-from <mia@example.com>\r\n"
        "\ttls TLS_AES_256_GCM_SHA384 (authenticated bits=0);\r\n"
        "\tMon, 10 Jun 2024 12:30:00 +0000",
        dict(
            from_address="203.0.113.20",
            tls=tls(True, UNKNOWN, cipher="TLS_AES_256_GCM_SHA384"),
            authenticated=True,
        ),
    ),
    (
        "dovecot LMTPS with its (using ...) comment",
        "from mx.example.com ([192.0.2.20])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        "\tby imap.example.com with LMTPS\r\n"
        "\tid 8Cz1NEB2Z2ZZEgAAYAbN/Q\r\n"
        "\t(envelope-from <sender@example.org>)\r\n"
        "\tfor <carol@example.com>; Mon, 10 Jun 2024 14:34:57 +0200",
        dict(
            from_helo="mx.example.com",
            from_address="192.0.2.20",
            by_host="imap.example.com",
            with_protocol="LMTPS",
            protocol=LMTP,
            id="8Cz1NEB2Z2ZZEgAAYAbN/Q",
            for_address="carol@example.com",
            tls=tls(True, STARTTLS, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
        ),
    ),
    (
        "dovecot LMTP over a unix socket",
        "from mx.example.com\r\n\tby imap.example.com with LMTP\r\n\tid GIbhHmu5HWW+WAAAr2tCCw\r\n"
        "\t(envelope-from <sender@example.org>)\r\n"
        "\tfor <carol@example.com>; Wed, 04 Oct 2023 21:11:07 +0200",
        dict(from_helo="mx.example.com", from_address=None, protocol=LMTP, tls=CLEAR),
    ),
    (
        "cyrus LMTPA",
        "from mx.example.com (mx.example.com [198.51.100.30])\n"
        "\t by store.example.com (Cyrus 3.9.0) with LMTPA;\n"
        "\t Mon, 10 Jun 2024 08:34:57 -0400",
        dict(protocol=LMTP, tls=CLEAR, authenticated=True),
    ),
    (
        "stalwart: AS comment nested in TCP-info, rustls cipher name",
        "from mail.example.org (mail.example.org [192.0.2.10] (AS64496 Example Networks, US))"
        "\r\n\t(using TLSv1.3 with cipher TLS13_AES_256_GCM_SHA384)\r\n"
        "\tby mx.example.com (Stalwart SMTP) with ESMTPS id 49A5F2B839DB1C2;\r\n"
        "\tSat, 26 Sep 2026 15:59:40 +0000",
        dict(
            from_helo="mail.example.org",
            from_host="mail.example.org",
            from_address="192.0.2.10",
            by_host="mx.example.com",
            id="49A5F2B839DB1C2",
            tls=tls(True, STARTTLS, "TLSv1.3", "TLS13_AES_256_GCM_SHA384"),
        ),
    ),
    (
        "amazon SES inbound in clear",
        "from a1-2.smtp-out.example.com (a1-2.smtp-out.example.com [198.51.100.12])\n"
        " by inbound-smtp.us-east-1.example.com with SMTP id 0a1b2c3d4e5f\n"
        " for mike@example.com;\n"
        " Mon, 10 Jun 2024 12:34:56 +0000 (UTC)",
        dict(for_address="mike@example.com", tls=CLEAR),
    ),
    (
        "RFC 6531 UTF8SMTPS",
        "from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.com with "
        "UTF8SMTPS id 77; Mon, 10 Jun 2024 12:34:56 +0000",
        dict(protocol=SMTP, tls=tls(True, STARTTLS), authenticated=False),
    ),
    (
        "RFC 6531 UTF8SMTPSA",
        "from [192.0.2.206] by smtp.example.com with UTF8SMTPSA id 78; "
        "Mon, 10 Jun 2024 12:34:56 +0000",
        dict(tls=tls(True, UNKNOWN), authenticated=True),
    ),
    (
        "IPv6 literals with the IPv6: tag",
        "from mail.example.org (mail.example.org [IPv6:2001:db8::25])\n"
        "\tby mx.example.com (Postfix) with ESMTPS id 4W1x; Mon, 10 Jun 2024 12:34:56 +0000",
        dict(from_host="mail.example.org", from_address="2001:db8::25"),
    ),
    (
        "IPv6 literal as the HELO name",
        "from [IPv6:2001:db8::1] (unknown [IPv6:2001:db8::1])\n"
        "\tby mx.example.com (Postfix) with ESMTP id 4W1y; Mon, 10 Jun 2024 12:34:56 +0000",
        dict(from_helo="[IPv6:2001:db8::1]", from_address="2001:db8::1", from_host_unknown=True),
    ),
]


@pytest.mark.parametrize(
    ("header", "expected"), [s[1:] for s in SAMPLES], ids=[s[0] for s in SAMPLES]
)
def test_real_formats_give_the_expected_hop(header: str, expected: dict[str, Any]) -> None:
    hop = parse_received(header)
    for name, value in expected.items():
        assert getattr(hop, name) == value, name
    assert hop.raw == header


def test_the_demo_world_msa_header_reads_exactly() -> None:
    header = (
        "from [127.0.0.1] ([127.0.0.1])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        "\t(Authenticated sender: alice@a.test)\r\n"
        "\tby smtp.a.test (mua) with ESMTPSA id 1A2224EF95B7620EF\r\n"
        "\tfor <bob@b.test>; Sat, 28 Nov 2026 13:18:50 -0000"
    )
    hop = parse_received(header)
    assert hop == ReceivedHop(
        from_helo="[127.0.0.1]",
        from_host=None,
        from_address="127.0.0.1",
        by_host="smtp.a.test",
        with_protocol="ESMTPSA",
        protocol=SMTP,
        id="1A2224EF95B7620EF",
        for_address="bob@b.test",
        date=datetime(2026, 11, 28, 13, 18, 50, tzinfo=UTC),
        tls=tls(True, UNKNOWN, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
        authenticated=True,
        raw=header,
    )


@settings(max_examples=60, deadline=None)
@given(
    helo=st.sampled_from([None, "smtp.a.test", "client.example.org", "[192.0.2.7]"]),
    peer_ip=st.sampled_from(["127.0.0.1", "192.0.2.7", "2001:db8::7"]),
    version=st.sampled_from(["TLSv1.2", "TLSv1.3", None]),
    cipher=st.sampled_from(["TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]),
    bits=st.sampled_from([None, 128, 256]),
    encrypted=st.booleans(),
    sender=st.sampled_from([None, "alice@a.test"]),
    recipient=st.sampled_from([None, "bob@b.test"]),
    stamp=st.integers(min_value=0, max_value=4_000_000_000),
)
def test_whatever_our_servers_write_reads_back(
    helo, peer_ip, version, cipher, bits, encrypted, sender, recipient, stamp
) -> None:
    facts = TlsFacts(True, TlsMode.STARTTLS, version, cipher, bits) if encrypted else CLEAR
    keyword = with_keyword("ESMTP", tls=encrypted, authenticated=sender is not None)
    value = received_header(
        helo=helo,
        peer_ip=peer_ip,
        by="mx.b.test",
        protocol=keyword,
        queue_id="0F1E2D3C4B5A",
        recipient=recipient,
        tls=facts,
        authenticated_as=sender,
        date=stamp,
    )
    hop = parse_received(value)
    assert hop.from_helo == (helo or f"[{peer_ip}]")
    assert hop.from_address == peer_ip
    assert (hop.by_host, hop.with_protocol, hop.id) == ("mx.b.test", keyword, "0F1E2D3C4B5A")
    assert hop.for_address == recipient
    assert hop.date == datetime.fromtimestamp(stamp, UTC)
    assert hop.authenticated is (sender is not None)
    assert hop.tls.encrypted is encrypted
    if encrypted:
        assert (hop.tls.version, hop.tls.cipher, hop.tls.bits) == (version, cipher, bits)
        assert hop.tls.mode is (UNKNOWN if sender else STARTTLS)


def test_nested_comments_and_unbalanced_parentheses() -> None:
    hop = parse_received(
        "from a.example.org (a.example.org [192.0.2.1] (note (deeply (nested) here)))"
        " (using TLSv1.2 with cipher AES128-SHA (128/128 bits)) by b.example.org with ESMTPS"
        " id Q1 (unclosed comment; Mon, 10 Jun 2024 12:00:00 +0000"
    )
    assert (hop.from_host, hop.from_address, hop.by_host) == (
        "a.example.org",
        "192.0.2.1",
        "b.example.org",
    )
    assert hop.tls.version == "TLSv1.2"
    assert hop.date is None  # the semicolon sits inside the unclosed comment
    assert parse_received(")))by x.example.org((( with ESMTP; ").by_host == "x.example.org"


def test_comment_saying_not_encrypted_is_not_a_cipher() -> None:
    hop = parse_received("from a.example.org by b.example.org with ESMTP (not encrypted); x")
    assert hop.tls == CLEAR


def test_received_hops_keep_header_order_from_a_message() -> None:
    message = message_from_string(
        "Received: from mx.example.com by imap.example.com with LMTP id 2;\n"
        " Mon, 10 Jun 2024 12:00:02 +0000\n"
        "Received: from mail.example.org (mail.example.org [192.0.2.10])\n"
        "\tby mx.example.com with ESMTPS id 1; Mon, 10 Jun 2024 12:00:01 +0000\n"
        "Subject: hi\n\nbody\n"
    )
    hops = received_hops(message)
    assert [h.id for h in hops] == ["2", "1"]
    pairs = [("Received", "by x.example.com with SMTP id 9; Mon, 10 Jun 2024 12:00:00 +0000")]
    assert [h.id for h in received_hops(pairs)] == ["9"]


def test_dates_are_tolerant() -> None:
    assert parse_received("by x.example.com; 10 Jun 2024 12:34:56 -0000").date == at(
        "2024-06-10 12:34:56 +0000"
    )
    est = parse_received("by x.example.com; Mon, 10 Jun 2024 12:34:56 -0500 (EST)").date
    assert est == datetime(2024, 6, 10, 12, 34, 56, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_received("by x.example.com; yesterday at noon").date is None
    assert parse_received("by x.example.com; Mon, 99 Jun 2024 99:99:99 +0000").date is None


# -- properties ---------------------------------------------------------------------------

_PIECES = st.sampled_from(
    ["from", "by", "with", "id", "for", "tls", "via", "(", ")", "[", "]", "<", ">", ";", '"',
     "\\", "ESMTPSA", "LMTPS", "HTTP", "mapi", "using TLSv1.3 with cipher", "version=TLS1_2",
     "TLSv1.3:X:256:YES", "encrypted", "helo=", "HELO", "unknown", "[IPv6:2001:db8::1]",
     "192.0.2.1", "[192.0.2.1]:25", "Mon, 10 Jun 2024 12:34:56 +0000", "\r\n\t", " ", "\n"]
)  # fmt: skip


def _check(hop: ReceivedHop) -> None:
    assert isinstance(hop, ReceivedHop)
    assert hop.tls.version in {None, "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    assert hop.date is None or hop.date.tzinfo is not None
    assert hop.protocol is None or isinstance(hop.protocol, ProtocolFamily)


@given(st.text())
def test_arbitrary_text_never_crashes(text: str) -> None:
    _check(parse_received(text))


@given(st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=40))
def test_arbitrary_header_like_text_never_crashes(pieces: list[str]) -> None:
    _check(parse_received(" ".join(pieces)))
    _check(parse_received("".join(pieces)))


def _fold(value: str, points: list[int], folds: list[str]) -> str:
    """Insert a line break before some of the whitespace (RFC 5322 folding)."""
    spaces = [m.start() for m in re.finditer(r"[ \t]", value)]
    chosen = sorted({spaces[p % len(spaces)] for p in points}) if spaces else []
    out, last = [], 0
    for i, at_space in enumerate(chosen):
        out += [value[last:at_space], folds[i % len(folds)]]
        last = at_space
    return "".join([*out, value[last:]])


@settings(max_examples=150)
@given(
    sample=st.sampled_from([s[1] for s in SAMPLES]),
    points=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    folds=st.lists(st.sampled_from(["\r\n", "\n", "\r\n ", "\r\n\t\t"]), min_size=1),
)
def test_folding_never_changes_the_hop(sample: str, points: list[int], folds: list[str]) -> None:
    folded = _fold(sample, points, folds)
    assert replace(parse_received(folded), raw=sample) == parse_received(sample)


@given(st.text(max_size=30))
def test_protocol_normalisation_is_idempotent(keyword: str) -> None:
    family = normalise_protocol(keyword)
    if family is not None:
        assert normalise_protocol(family.value) is family


@pytest.mark.parametrize("keyword", ["SMTP", "ESMTPSA", "LMTPS", "HTTP", "mapi", "local", "x"])
def test_each_family_maps_to_itself(keyword: str) -> None:
    family = normalise_protocol(keyword)
    assert family is not None and normalise_protocol(family.value) is family


@given(st.sampled_from([s[1] for s in SAMPLES]))
def test_tls_normalisation_of_a_parsed_hop_is_idempotent(sample: str) -> None:
    facts = parse_received(sample).tls
    assert normalise_tls_version(facts.version) == facts.version
    assert TlsFacts.from_json(facts.to_json()) == facts


@pytest.mark.parametrize("unit", ["(", "[a", "_", "using ", "\\", "by ", "x=", "[IPv6:"])
def test_hostile_long_fields_are_read_only_so_far(unit: str) -> None:
    hop = parse_received(unit * 500_000)  # a megabyte or more: read up to the cap, no crash
    _check(hop)


@given(st.text(max_size=200), st.lists(st.integers(min_value=0), max_size=8))
def test_arbitrary_folding_of_arbitrary_text_never_crashes(text: str, points: list[int]) -> None:
    _check(parse_received(_fold(text, points, ["\r\n", "\r\n\t", "\n "])))
