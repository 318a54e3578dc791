"""The world's users and their random passwords."""

from __future__ import annotations

from pathlib import Path

from mua.stack.users import UserDirectory


def test_passwords_survive_being_pasted_into_a_command_line(tmp_path: Path) -> None:
    """A password is printed for people to paste into swaks or curl: one starting with "-" is
    read as an option there ("Unknown option: bsEDd_A-v6Q2Ex-", seen in CI). 2,000 passwords
    from the old token_urlsafe alphabet held such a one with near certainty."""
    users = [f"user{i}" for i in range(2000)]
    directory = UserDirectory.load_or_create("a.test", users, tmp_path / "users.json")
    passwords = [m.password for m in directory]
    assert all(p.isalnum() and p.isascii() for p in passwords)
    assert min(len(p) for p in passwords) >= 16
    assert len(set(passwords)) == len(passwords)


def test_passwords_are_kept_across_loads(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    first = UserDirectory.load_or_create("a.test", ["alice"], path)
    again = UserDirectory.load_or_create("a.test", ["alice"], path)
    alice = first.get("alice")
    assert alice is not None
    assert again.authenticate("alice@a.test", alice.password) is not None
    assert again.authenticate("alice", alice.password + "x") is None
