"""Downloading public data sets for users who are online, file by file, each verified by sha256.

Every file listed in a data set's manifest is downloaded from a pinned commit, checked against the
manifest's checksum and written atomically; files already present with the right checksum are skipped,
so an interrupted fetch resumes. Offline, the first failed request stops with one clear message.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

from .errors import IntergraphError


class FetchError(IntergraphError, RuntimeError):
    """A download that cannot go on; the message says what failed and what to do."""


@dataclass(frozen=True)
class Source:
    name: str
    base_url: str
    manifest: str  # resource file of intergraph.<package>: target \t source path \t sha256
    package: str
    folder: str


SOURCES = {
    "db5": Source(
        name="db5",
        base_url="https://raw.githubusercontent.com/octavian-ganea/equidock_public/"
        "ac2c754399bf20b50a27d86dbff4f6669788d47f/",
        manifest="resources/db5_manifest.tsv",
        package="intergraph.protein",
        folder="db5",
    ),
}


def content_sha256(data: bytes) -> str:
    """Checksum of a text file's content, blind to trailing newlines (some mirrors add one)."""
    return hashlib.sha256(data.rstrip(b"\r\n")).hexdigest()


def manifest_rows(source: Source) -> list[tuple[str, str, str]]:
    text = resources.files(source.package).joinpath(source.manifest).read_text()
    return [tuple(line.split("\t")) for line in text.splitlines() if line and not line.startswith("#")]


def _read_target(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def fetch(
    name: str,
    dest: str | Path,
    opener: Callable[[str], bytes] | None = None,
    progress: Callable[[Iterable], Iterable] = lambda it: it,
) -> tuple[Path, int, int]:
    """Download data set ``name`` into ``dest/<folder>``; returns (folder, downloaded, already present)."""
    if name not in SOURCES:
        raise FetchError(f"no download source for {name!r}; fetchable: {', '.join(SOURCES)}")
    source = SOURCES[name]
    opener = opener or _urlopen
    root = Path(dest) / source.folder
    got = kept = 0
    for target, src, digest in progress(manifest_rows(source)):
        path = root / target
        if path.exists():
            try:
                if content_sha256(_read_target(path)) == digest:
                    kept += 1
                    continue
            except (OSError, EOFError):
                pass  # damaged: download again
        url = source.base_url + src
        data = opener(url)
        if content_sha256(data) != digest:
            raise FetchError(f"{url}: checksum mismatch (expected {digest[:12]}…); the file was not written")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
        os.replace(tmp, path)
        got += 1
    return root, got, kept


def _urlopen(url: str, timeout: float = 60.0) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        raise FetchError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise FetchError(
            f"cannot download {url} ({reason}). This machine looks offline: run the fetch on a machine with "
            "internet access and copy the folder here, then set INTERGRAPH_DATA to its parent."
        ) from None
