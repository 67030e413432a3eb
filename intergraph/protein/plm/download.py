"""Downloading ESM-2 weights for users who are online (never used by tests or at run time otherwise).

Files come from the Hugging Face repository ``facebook/<name>``. Each file is checked against the hash the
server declares for it: the sha256 of large (LFS) files, the git blob sha1 of small ones; a mismatch
deletes the download. The result is a transformers folder that ``--model PATH`` loads.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from ...fetch import FetchError
from .registry import ESM2

HF_FILES = ("config.json", "vocab.txt", "special_tokens_map.json", "tokenizer_config.json", "model.safetensors")
HF_BASE = "https://huggingface.co"


def _declared_hash(headers) -> tuple[str, str] | None:
    """("sha256", hex) for LFS files, ("git-sha1", hex) for small files, from a resolve response's headers."""
    linked = headers.get("X-Linked-Etag")
    if linked:
        return "sha256", linked.strip('"').removeprefix("W/").strip('"')
    etag = headers.get("X-Xet-Hash") or headers.get("ETag")
    if etag:
        return "git-sha1", etag.strip('"').removeprefix("W/").strip('"')
    return None


def _verify(data_path: Path, kind: str, expected: str) -> bool:
    if kind == "sha256":
        h = hashlib.sha256()
    else:
        h = hashlib.sha1()
        h.update(f"blob {data_path.stat().st_size}\0".encode())
    with open(data_path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest() == expected


def download_esm2(name: str, to: str | Path, opener: Callable | None = None,
                  report: Callable[[str], None] = print) -> Path:
    """Download ``facebook/<name>`` into ``to/<name>``; returns that folder."""
    opener = opener or urllib.request.urlopen
    if name not in ESM2:
        raise FetchError(f"{name!r} is not an ESM-2 model; choose one of {', '.join(ESM2)}")
    folder = Path(to) / name
    folder.mkdir(parents=True, exist_ok=True)
    for file in HF_FILES:
        url = f"{HF_BASE}/{ESM2[name].hf_repo}/resolve/main/{file}"
        target = folder / file
        tmp = folder / f".{file}.part"
        try:
            with opener(url, timeout=60) as r:
                declared = _declared_hash(r.headers)
                with open(tmp, "wb") as f:
                    while chunk := r.read(1 << 22):
                        f.write(chunk)
        except urllib.error.HTTPError as e:
            raise FetchError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            tmp.unlink(missing_ok=True)
            raise FetchError(
                f"cannot download {url} ({getattr(e, 'reason', e)}). This machine looks offline: download "
                f"{name} on a machine with internet access (or copy its fair-esm files {name}.pt and "
                f"{name}-contact-regression.pt) and pass --model PATH."
            ) from None
        if declared is None:
            tmp.unlink(missing_ok=True)
            raise FetchError(f"{url}: the server declared no checksum; refusing an unverifiable file")
        if not _verify(tmp, *declared):
            tmp.unlink(missing_ok=True)
            raise FetchError(f"{url}: {declared[0]} mismatch; the download was discarded")
        os.replace(tmp, target)
        report(f"{file}: verified ({declared[0]})")
    return folder
