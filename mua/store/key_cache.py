"""DKIM keys the client has looked up (`<selector>._domainkey.<domain>` -> the TXT record,
and whether DNSSEC validated it), so that a message can be checked again without DNS:
`mua trace` offline, a message opened on a train. A key that was gone is remembered as gone.

One small JSON file in the cache directory, replaced atomically; a damaged file is an empty
cache (it only saves lookups).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from mua import durable
from mua.store import paths

log = logging.getLogger(__name__)

FILE_NAME = "dkim-keys.json"
MAX_ENTRIES = 2000  # the oldest are dropped beyond this


class KeyCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.cache_dir() / FILE_NAME

    def get(self, name: str) -> tuple[str | None, bool] | None:
        entry = self._load().get(name.lower().rstrip("."))
        if not isinstance(entry, dict):
            return None
        record = entry.get("record")
        return (record if isinstance(record, str) else None), bool(entry.get("dnssec"))

    def put(self, name: str, record: str | None, dnssec: bool) -> None:
        entries = self._load()
        entries[name.lower().rstrip(".")] = {
            "record": record,
            "dnssec": dnssec,
            "fetched": int(time.time()),
        }
        if len(entries) > MAX_ENTRIES:
            newest = sorted(entries.items(), key=lambda kv: kv[1].get("fetched", 0))
            entries = dict(newest[-MAX_ENTRIES:])
        try:
            self._save(entries)
        except OSError as exc:
            log.warning("could not keep the DKIM key %s in %s: %s", name, self.path, exc)

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, entries: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(entries, indent=1, sort_keys=True)
        durable.write_atomic(self.path, text.encode("utf-8"), mode=0o600)
