"""FASTA reading with clear errors: plain or gzip, headers kept verbatim, sequences upper-cased."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator

from ..errors import InputError

#: letters a protein language model may see (20 standard + ESM-2's extra tokens)
PROTEIN_LETTERS = set("ACDEFGHIKLMNPQRSTVWYXBZUO")


class FastaError(InputError):
    def __init__(self, source: str | Path, problem: str):
        self.source, self.problem = str(source), problem
        super().__init__(f"{source}: {problem}")


def read_fasta(path: str | Path) -> Iterator[tuple[str, str]]:
    """Yield (header, sequence). Empty files, records without residues and foreign letters are errors."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FastaError(path, "file not found") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError) as e:
            raise FastaError(path, f"truncated or corrupt gzip data ({e})") from None
    text = raw.decode("latin-1")
    if not text.strip():
        raise FastaError(path, "empty FASTA file")
    if not text.lstrip().startswith(">"):
        raise FastaError(path, "not a FASTA file (the first record must start with '>')")
    header, parts, line_no, start = None, [], 0, 0
    seen = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line.startswith(">"):
            if header is not None:
                yield _record(path, header, parts, start)
                seen += 1
            header, parts, start = line[1:].strip(), [], line_no
        elif line:
            parts.append(line)
    if header is not None:
        yield _record(path, header, parts, start)
        seen += 1


def _record(path: Path, header: str, parts: list[str], line: int) -> tuple[str, str]:
    seq = "".join(parts).upper().rstrip("*")
    if not seq:
        raise FastaError(path, f"record {header!r} (line {line}) has no sequence")
    bad = sorted(set(seq) - PROTEIN_LETTERS)
    if bad:
        raise FastaError(path, f"record {header!r} (line {line}) has non-protein letters {''.join(bad)!r}")
    return header, seq
