"""Importing foreign embedding files safely, and the `intergraph plm` commands end to end."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.protein.plm.imports import ImportProblem, read_esm_extract, read_npz
from intergraph.protein.plm.store import EmbeddingStore

runner = CliRunner()


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_npz_from_the_shared_data(data_root):
    seq, emb, extra = read_npz(data_root / "esm2_650m_db5" / "1ACB.B.npz")
    assert emb.shape == (len(seq), 1280) and emb.dtype == np.float16
    assert extra["role"] == "l"


def test_bad_npz_files(tmp_path):
    np.savez(tmp_path / "short.npz", seq=np.array("MKT"), emb=np.zeros((2, 4)))
    with pytest.raises(ImportProblem, match="shape"):
        read_npz(tmp_path / "short.npz")
    np.savez(tmp_path / "noseq.npz", emb=np.zeros((2, 4)))
    with pytest.raises(ImportProblem, match="needs arrays"):
        read_npz(tmp_path / "noseq.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ImportProblem, match="not a readable"):
        read_npz(tmp_path / "junk.npz")
    obj = np.empty(1, dtype=object)
    obj[0] = {"a": 1}
    np.savez(tmp_path / "pickled.npz", seq=np.array("MK"), emb=obj)
    with pytest.raises(ImportProblem):
        read_npz(tmp_path / "pickled.npz")


def test_esm_extract_files_and_a_malicious_pickle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"label": "p1", "representations": {6: torch.randn(5, 8), 3: torch.randn(5, 8)}}, tmp_path / "p1.pt")
    label, seq, reps = read_esm_extract(tmp_path / "p1.pt", {"p1": "MKTAY"})
    assert label == "p1" and seq == "MKTAY" and sorted(reps) == [3, 6]
    with pytest.raises(ImportProblem, match="truncated"):
        read_esm_extract(tmp_path / "p1.pt", {"p1": "MKTAYIAK"})
    torch.save({"label": "p2", "representations": {6: Evil()}}, tmp_path / "evil.pt")
    with pytest.raises(ImportProblem, match="not a safe torch file"):
        read_esm_extract(tmp_path / "evil.pt", {"p2": "MK"})
    assert not (tmp_path / "pwned").exists()


def test_cli_embed_rerun_ls_and_bad_input(tiny_fair_esm, tmp_path):
    fasta = tmp_path / "s.fasta"
    fasta.write_text(">a\nMKTAYIAKQR\n>b\nGSHMLEDPVDAFQ\n>dup\nMKTAYIAKQR\n")
    store = tmp_path / "store"
    args = ["plm", "embed", "--model", str(tiny_fair_esm), "--fasta", str(fasta), "--store", str(store)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "2 embedded, 0 already stored" in first.output
    again = runner.invoke(app, args)
    assert "0 embedded, 2 already stored" in again.output
    ls = runner.invoke(app, ["plm", "ls", "--store", str(store)])
    assert "esm2_t3_32D_tiny@" in ls.output and " 3 " in ls.output
    with EmbeddingStore(store, readonly=True) as s:
        model = s.summary()[0].model
        assert s.get_named(model, "3", "dup")[0] == "MKTAYIAKQR"
    (tmp_path / "empty.fasta").write_text("")
    bad = runner.invoke(app, ["plm", "embed", "--model", str(tiny_fair_esm), "--fasta", str(tmp_path / "empty.fasta"),
                              "--store", str(store)])
    assert bad.exit_code == 2 and "empty FASTA" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["plm", "embed", "--model", "esm2_t36_3B_UR50D", "--fasta", str(fasta),
                                  "--store", str(store)])
    assert missing.exit_code == 2 and "esm2_t36_3B_UR50D.pt" in missing.output


def test_cli_embed_structures(tiny_fair_esm, db5_root, tmp_path):
    store = tmp_path / "store"
    result = runner.invoke(app, ["plm", "embed", "--model", str(tiny_fair_esm), "--structures",
                                 str(db5_root / "structures" / "1AHW_r_b.pdb.gz"), "--store", str(store)])
    assert result.exit_code == 0 and "2 embedded" in result.output  # antibody: heavy and light chain


def test_cli_import_the_real_db5_embeddings(data_root, tmp_path):
    result = runner.invoke(app, ["plm", "import", str(data_root / "esm2_650m_db5"), "--store", str(tmp_path / "s"),
                                 "--model", "esm2_t33_650M_UR50D"])
    assert result.exit_code == 0 and "148 files imported" in result.output
    ls = runner.invoke(app, ["plm", "ls", "--store", str(tmp_path / "s")])
    assert "esm2_t33_650M_UR50D" in ls.output and "1280" in ls.output


def test_download_offline_is_one_clear_message(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(url, timeout=60):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    result = runner.invoke(app, ["plm", "download", "esm2_t6_8M_UR50D", "--to", str(tmp_path)])
    assert result.exit_code == 2 and "offline" in result.output and "Traceback" not in result.output
    assert not any(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())


def test_download_verifies_the_declared_checksum(tmp_path):
    import hashlib
    import io

    from intergraph.fetch import FetchError
    from intergraph.protein.plm.download import HF_FILES, download_esm2

    blobs = {f: f"content of {f}".encode() for f in HF_FILES}

    class Response(io.BytesIO):
        def __init__(self, data, headers):
            super().__init__(data)
            self.headers = headers

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def good(url, timeout=60):
        name = url.rsplit("/", 1)[1]
        data = blobs[name]
        if name.endswith(".safetensors"):
            return Response(data, {"X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"'})
        sha1 = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
        return Response(data, {"ETag": f'"{sha1}"'})

    folder = download_esm2("esm2_t6_8M_UR50D", tmp_path, opener=good, report=lambda m: None)
    assert sorted(p.name for p in folder.iterdir()) == sorted(HF_FILES)

    def corrupt(url, timeout=60):
        r = good(url, timeout)
        return Response(r.getvalue() + b"!", r.headers) if url.endswith(".safetensors") else r

    with pytest.raises(FetchError, match="mismatch"):
        download_esm2("esm2_t6_8M_UR50D", tmp_path / "again", opener=corrupt, report=lambda m: None)
    assert not (tmp_path / "again" / "esm2_t6_8M_UR50D" / "model.safetensors").exists()
