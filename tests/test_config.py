"""Accounts and settings as TOML: round trips, private atomic writes, clear errors."""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mua.core.account import Account, ServerSettings
from mua.core.tls_facts import Security
from mua.store.config import (
    AccountExists,
    AccountNotFound,
    AccountStore,
    ConfigError,
    Settings,
    SettingsStore,
)


def make_account(address: str = "alice@a.test", **changes: object) -> Account:
    domain = address.rpartition("@")[2]
    account = Account(
        address=address,
        display_name="Alice",
        imap=ServerSettings(f"imap.{domain}", 993, Security.IMPLICIT, address),
        smtp=ServerSettings(
            "127.0.0.1",
            465,
            Security.IMPLICIT,
            address,
            ca_file=Path("/tmp/ca.pem"),
            server_name=f"smtp.{domain}",
        ),
        nameserver="127.0.0.1:10053",
        provider_hosts=(f"mx.{domain}",),
    )
    return account.with_changes(**changes)


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "config" / "accounts.toml")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- accounts ---------------------------------------------------------------------------


def test_a_missing_file_means_no_accounts(store: AccountStore) -> None:
    assert store.load() == []
    assert store.get("alice@a.test") is None
    assert not store.path.exists()


def test_accounts_round_trip_in_the_order_added(store: AccountStore) -> None:
    alice, bob = make_account(), make_account("bob@b.test", display_name="Bob")
    store.add(alice)
    store.add(bob)
    assert store.load() == [alice, bob]
    assert AccountStore(store.path).load() == [alice, bob]  # a fresh reader agrees


def test_get_ignores_case(store: AccountStore) -> None:
    store.add(make_account("Alice@A.test"))
    found = store.get("alice@a.TEST")
    assert found is not None
    assert found.address == "Alice@A.test"


def test_a_duplicate_is_refused_and_the_file_is_unchanged(store: AccountStore) -> None:
    store.add(make_account())
    before = store.path.read_bytes()
    with pytest.raises(AccountExists, match=r"alice@a\.test already exists"):
        store.add(make_account("ALICE@a.test", display_name="Other"))
    assert store.path.read_bytes() == before


def test_update_replaces_in_place(store: AccountStore) -> None:
    store.add(make_account())
    store.add(make_account("bob@b.test"))
    store.update(make_account("ALICE@a.test", display_name="Alice Liddell"))
    accounts = store.load()
    assert [a.key for a in accounts] == ["alice@a.test", "bob@b.test"]
    assert accounts[0].display_name == "Alice Liddell"


def test_update_and_remove_of_an_unknown_account_say_so(store: AccountStore) -> None:
    store.add(make_account())
    with pytest.raises(AccountNotFound) as excinfo:
        store.update(make_account("carol@c.test"))
    assert str(excinfo.value) == "There is no account for carol@c.test."
    with pytest.raises(AccountNotFound):
        store.remove("carol@c.test")


def test_remove_ignores_case(store: AccountStore) -> None:
    store.add(make_account())
    store.add(make_account("bob@b.test"))
    store.remove("ALICE@A.TEST")
    assert [a.address for a in store.load()] == ["bob@b.test"]


def test_the_default_path_follows_mua_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUA_HOME", str(tmp_path))
    assert AccountStore().path == tmp_path / "config" / "accounts.toml"
    assert SettingsStore().path == tmp_path / "config" / "settings.toml"
    AccountStore().add(make_account())
    assert (tmp_path / "config" / "accounts.toml").exists()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_the_file_is_private_even_when_it_was_not(store: AccountStore) -> None:
    store.add(make_account())
    assert mode(store.path) == 0o600
    os.chmod(store.path, 0o644)
    store.add(make_account("bob@b.test"))
    assert mode(store.path) == 0o600


def test_writes_leave_no_temporary_files(store: AccountStore) -> None:
    store.add(make_account())
    store.update(make_account(display_name="A"))
    store.remove("alice@a.test")
    assert [p.name for p in store.path.parent.iterdir()] == ["accounts.toml"]


def test_a_failed_write_keeps_the_old_file(
    store: AccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add(make_account())
    before = store.path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        store.add(make_account("bob@b.test"))
    assert store.path.read_bytes() == before
    assert [p.name for p in store.path.parent.iterdir()] == ["accounts.toml"]


def test_no_password_is_ever_written(store: AccountStore) -> None:
    names = {f.name for f in dataclasses.fields(Account)}
    names |= {f.name for f in dataclasses.fields(ServerSettings)}
    assert not [n for n in names if "pass" in n or "secret" in n or "token" in n]
    store.add(make_account())

    def keys(data: object) -> list[str]:
        if isinstance(data, dict):
            return [k for key, value in data.items() for k in (key, *keys(value))]
        if isinstance(data, list):
            return [k for item in data for k in keys(item)]
        return []

    written = keys(tomllib.loads(store.path.read_text()))
    assert "username" in written
    assert not [k for k in written if "pass" in k or "secret" in k or "token" in k]


def test_a_secret_looking_key_is_refused_before_anything_is_written(
    store: AccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Account.to_dict

    def leaky(self: Account) -> dict[str, object]:
        data = original(self)
        data["imap"]["password"] = "hunter2"
        return data

    monkeypatch.setattr(Account, "to_dict", leaky)
    with pytest.raises(ValueError, match="secrets belong in the keyring"):
        store.add(make_account())
    assert not store.path.exists()


BROKEN = """\
# accounts

[[account]]
address = "alice@a.test"
display_name = "Alice
"""


def test_malformed_toml_names_the_file_and_line(store: AccountStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(BROKEN)
    with pytest.raises(ConfigError) as excinfo:
        store.load()
    message = str(excinfo.value)
    assert message.startswith(f"{store.path} line 5: this is not valid TOML")
    assert message.endswith("; fix or remove it.")
    assert message.count(". ") == 0  # one sentence
    assert excinfo.value.line == 5
    assert isinstance(excinfo.value, ValueError)


def test_a_broken_file_is_never_overwritten(store: AccountStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(BROKEN)
    for change in (
        lambda: store.add(make_account("bob@b.test")),
        lambda: store.update(make_account()),
        lambda: store.remove("alice@a.test"),
    ):
        with pytest.raises(ConfigError):
            change()
    assert store.path.read_text() == BROKEN


def test_an_account_missing_a_key_points_at_its_table(store: AccountStore) -> None:
    store.add(make_account())
    store.add(make_account("bob@b.test"))
    text = store.path.read_text()
    bob_line = [n for n, line in enumerate(text.splitlines(), 1) if line == "[[account]]"][1]
    # Drop bob's IMAP host: the error names bob and the line of bob's [[account]].
    store.path.write_text(text.replace('host = "imap.b.test"\n', ""))
    with pytest.raises(ConfigError) as excinfo:
        store.load()
    assert excinfo.value.line == bob_line
    assert f"line {bob_line}: bob@b.test has no 'host'" in str(excinfo.value)


def test_a_bad_value_is_reported_with_its_line(store: AccountStore) -> None:
    store.add(make_account())
    store.path.write_text(store.path.read_text().replace('"implicit"', '"tls"', 1))
    with pytest.raises(ConfigError, match=r"line \d+: alice@a\.test has a bad value"):
        store.load()


def test_an_address_listed_twice_is_an_error(store: AccountStore) -> None:
    store.add(make_account())
    text = store.path.read_text()
    body = text[text.index("[[account]]") :]
    store.path.write_text(text + "\n" + body.replace("alice@a.test", "ALICE@a.test", 1))
    with pytest.raises(ConfigError, match=r"ALICE@a\.test is listed twice"):
        store.load()


def test_a_file_that_is_not_utf8_names_the_line(store: AccountStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b'# ok\n\n[[account]]\naddress = "al\xffce@a.test"\n')
    with pytest.raises(ConfigError, match=r"line 4: this is not UTF-8 text; fix or remove it\.$"):
        store.load()


text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
servers = st.builds(
    ServerSettings,
    host=text.filter(bool),
    port=st.integers(1, 65535),
    security=st.sampled_from(Security),
    username=text,
    ca_file=st.one_of(st.none(), st.just(Path("/etc/ssl/ca.pem"))),
    server_name=st.one_of(st.none(), text.filter(bool)),
)
accounts = st.builds(
    Account,
    address=st.emails(),
    imap=servers,
    smtp=servers,
    display_name=text,
    nameserver=st.one_of(st.none(), text.filter(bool)),
    cleartext_consent=st.booleans(),
    provider_hosts=st.lists(text, max_size=3).map(tuple),
)


@given(accounts)
def test_any_account_round_trips(account: Account) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = AccountStore(Path(directory) / "accounts.toml")
        store.add(account)
        assert store.load() == [account]


# --- settings ---------------------------------------------------------------------------


def test_settings_default_when_there_is_no_file(tmp_path: Path) -> None:
    settings = SettingsStore(tmp_path / "settings.toml").load()
    assert settings == Settings()
    assert settings.reader_position == "right"
    assert settings.load_remote_content is False
    assert settings.check_interval_minutes == 10
    assert settings.secrets_backend == "system"


def test_settings_round_trip_privately(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "config" / "settings.toml")
    chosen = Settings(
        reader_position="bottom",
        load_remote_content=True,
        check_interval_minutes=3,
        secrets_backend="encrypted-file",
    )
    store.save(chosen)
    assert store.load() == chosen
    assert 'secrets_backend = "encrypted-file"' in store.path.read_text()
    if os.name == "posix":
        assert mode(store.path) == 0o600


def test_missing_settings_keys_take_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('reader_position = "bottom"\nfuture_option = 1\n')
    assert SettingsStore(path).load() == Settings(reader_position="bottom")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('reader_position = "left"', "reader_position must be one of"),
        ('load_remote_content = "yes"', "load_remote_content must be true or false"),
        ("check_interval_minutes = 0", "check_interval_minutes must be a whole number"),
        ("check_interval_minutes = true", "check_interval_minutes must be a whole number"),
        ('secrets_backend = "plaintext"', "secrets_backend must be one of"),
    ],
)
def test_a_bad_setting_names_the_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "settings.toml"
    original = f"# mine\n\n{line}\n"
    path.write_text(original)
    store = SettingsStore(path)
    with pytest.raises(ConfigError) as excinfo:
        store.load()
    assert str(excinfo.value).startswith(f"{path} line 3: {problem}")
    assert str(excinfo.value).endswith("; fix or remove it.")
    assert path.read_text() == original


def test_malformed_settings_are_reported_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("reader_position = right\n")
    with pytest.raises(ConfigError, match=r"settings\.toml line 1: this is not valid TOML"):
        SettingsStore(path).load()
    assert path.read_text() == "reader_position = right\n"


def test_settings_validate_when_built_in_code() -> None:
    with pytest.raises(ValueError, match="reader_position"):
        Settings(reader_position="left")  # type: ignore[arg-type]
