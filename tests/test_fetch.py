"""Downloads and verification against a real local HTTP server and a file mirror."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from fixtures.challenge2012 import make_challenge2012, write_sha256sums
from medrobust.data.fetch import FetchError, Sources, fetch_verified
from medrobust.data.verify import VerificationError

REL = "physionet/challenge-2012/1.0.0"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture()
def publisher(tmp_path):
    """A local HTTP server serving a folder in the publishers' layout (physionet/..., zenodo/...)."""
    root = tmp_path / "publisher"
    make_challenge2012(root, sets=("a",), n_per_set=5)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _http_sources(url: str) -> Sources:
    return Sources(physionet_url=f"{url}/physionet", zenodo_url=f"{url}/zenodo", retries=2, timeout=5)


def _fetch_with_sums(rel: str, dest_root: Path, sources: Sources) -> Path:
    fetch_verified(f"{REL}/SHA256SUMS.txt", dest_root / REL / "SHA256SUMS.txt", sources)
    dest = dest_root / rel
    fetch_verified(rel, dest, sources)
    return dest


def test_http_download_is_verified(publisher, tmp_path):
    root, url = publisher
    dest = _fetch_with_sums(f"{REL}/set-a.tar.gz", tmp_path / "resources", _http_sources(url))
    assert dest.read_bytes() == (root / REL / "set-a.tar.gz").read_bytes()
    assert not list(dest.parent.glob(".*part*")), "temporary files left behind"


@pytest.mark.parametrize("damage", ["corrupted", "truncated", "html"])
def test_http_bad_file_is_refused_and_not_kept(publisher, tmp_path, damage):
    root, url = publisher
    target = root / REL / "set-a.tar.gz"
    data = target.read_bytes()
    if damage == "corrupted":
        target.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    elif damage == "truncated":
        target.write_bytes(data[: len(data) // 2])
    else:
        target.write_bytes(b"<!DOCTYPE html><html><body>503 Service Unavailable</body></html>")
    with pytest.raises(VerificationError, match="set-a.tar.gz") as err:
        _fetch_with_sums(f"{REL}/set-a.tar.gz", tmp_path / "resources", _http_sources(url))
    assert "sha256 mismatch" in str(err.value)
    if damage == "html":
        assert "HTML page" in str(err.value)
    dest_dir = tmp_path / "resources" / REL
    assert not (dest_dir / "set-a.tar.gz").exists()
    assert [p.name for p in dest_dir.iterdir()] == ["SHA256SUMS.txt"]


def test_http_missing_file_names_file_url_and_how_to_prestage(publisher, tmp_path):
    root, url = publisher
    (root / REL / "set-a.tar.gz").unlink()
    with pytest.raises(FetchError) as err:
        _fetch_with_sums(f"{REL}/set-a.tar.gz", tmp_path / "resources", _http_sources(url))
    message = str(err.value)
    assert f"{REL}/set-a.tar.gz" in message
    assert f"{url}/physionet/challenge-2012/1.0.0/set-a.tar.gz" in message
    assert "404" in message and "MIRROR=" in message and "pre-stage" in message


def test_file_not_in_checksum_list_is_refused(publisher, tmp_path):
    root, url = publisher
    (root / REL / "extra.txt").write_text("not listed\n")
    with pytest.raises(VerificationError, match="lists no checksum for 'extra.txt'"):
        _fetch_with_sums(f"{REL}/extra.txt", tmp_path / "resources", _http_sources(url))


def test_wrong_checksum_list_is_refused(publisher, tmp_path):
    root, url = publisher
    (root / REL / "SHA256SUMS.txt").write_text("<html>login required</html>\n")
    with pytest.raises(VerificationError, match="SHA256SUMS.txt.*HTML page"):
        _fetch_with_sums(f"{REL}/set-a.tar.gz", tmp_path / "resources", _http_sources(url))


def test_mirror_is_used_before_the_network(tmp_path):
    mirror = tmp_path / "mirror"
    make_challenge2012(mirror, sets=("a",), n_per_set=3)
    sources = Sources(mirror=mirror, physionet_url="http://127.0.0.1:9/none", offline=True)
    dest = _fetch_with_sums(f"{REL}/Outcomes-a.txt", tmp_path / "resources", sources)
    assert dest.read_text() == (mirror / REL / "Outcomes-a.txt").read_text()


def test_corrupted_mirror_file_is_refused(tmp_path):
    mirror = tmp_path / "mirror"
    folder = make_challenge2012(mirror, sets=("a",), n_per_set=3)
    write_sha256sums(folder)
    (folder / "Outcomes-a.txt").write_text("RecordID,In-hospital_death\n1,0\n")
    sources = Sources(mirror=mirror, offline=True)
    with pytest.raises(VerificationError, match=r"Outcomes-a.txt \(mirror\): sha256 mismatch"):
        _fetch_with_sums(f"{REL}/Outcomes-a.txt", tmp_path / "resources", sources)
    assert not (tmp_path / "resources" / REL / "Outcomes-a.txt").exists()


def test_missing_in_mirror_and_offline_names_both(tmp_path):
    mirror = tmp_path / "mirror"
    make_challenge2012(mirror, sets=("a",), n_per_set=3)
    sources = Sources(mirror=mirror, offline=True)
    with pytest.raises(FetchError, match=r"could not fetch .*set-b.tar.gz[\s\S]*mirror .*no such file"):
        fetch_verified(f"{REL}/set-b.tar.gz", tmp_path / "resources" / REL / "set-b.tar.gz", sources)


def test_medmnist_md5_is_checked(tmp_path):
    from medrobust.data.registry import medmnist_md5

    mirror = tmp_path / "mirror" / "zenodo" / "10519652"
    mirror.mkdir(parents=True)
    (mirror / "pneumoniamnist.npz").write_bytes(b"not the real file")
    sources = Sources(mirror=tmp_path / "mirror", offline=True)
    dest = tmp_path / "resources" / "zenodo" / "10519652" / "pneumoniamnist.npz"
    with pytest.raises(VerificationError, match=f"md5 mismatch.*expected {medmnist_md5('pneumoniamnist')}"):
        fetch_verified("zenodo/10519652/pneumoniamnist.npz", dest, sources)
    assert not dest.exists()
