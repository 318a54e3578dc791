"""Issue 16: the client's own legs say how it signed in (`"auth"` in `mua demo --json`),
in the cleartext rows and the ordinary password rows alike. A password sent with the
protocol's own login command (IMAP LOGIN, POP3 USER/PASS) is "LOGIN"; SMTP AUTH names its
SASL mechanism (PLAIN here)."""

from __future__ import annotations

import json

import pytest

from mua.cli import main

# scenario -> the auth of (the submission leg, the retrieval leg)
EXPECTED = {
    "legacy-25": ("PLAIN", "LOGIN"),
    "submission-clear": ("PLAIN", "LOGIN"),
    "imap-clear": ("PLAIN", "LOGIN"),
    "pop3-clear": ("PLAIN", "LOGIN"),
    "pop3-995": ("PLAIN", "LOGIN"),
    "modern": ("PLAIN", "LOGIN"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_client_legs_carry_how_the_client_signed_in(name: str, capsys) -> None:
    assert main(["demo", "--headless", "--scenario", name, "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    client = [
        leg for leg in trace["legs"] if leg["protocol"] in ("SMTP-submission", "IMAP", "POP3")
    ]
    assert [leg["protocol"] for leg in client][1:] in (["IMAP"], ["POP3"])
    assert len(client) == 2 and client[0]["protocol"] == "SMTP-submission"
    assert (client[0]["auth"], client[1]["auth"]) == EXPECTED[name]
    # Legs the client did not take part in carry no "auth" key at all.
    assert all("auth" not in leg for leg in trace["legs"] if leg not in client)
