"""PhysioNet credentials come from the environment or ~/.netrc, work against a real local HTTP server
that demands them, and never reach a log, an error message or the manifest."""
from __future__ import annotations

import base64
import functools
import http.server
import json
import logging
import threading

import pytest

from fixtures.challenge2012 import make_challenge2012
from medrobust.data.fetch import FetchError, Sources, credentials_for, fetch_verified
from medrobust.data.manifest import build as build_manifest

REL = "physionet/challenge-2012/1.0.0"
USER, PASSWORD = "reviewer", "s3cret-Pa55word"


class _AuthHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files only to a request with the right Basic credentials, as credentialed projects do."""

    def do_GET(self):
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="PhysioNet"')
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture()
def credentialed(tmp_path):
    root = tmp_path / "publisher"
    make_challenge2012(root, sets=("a",), n_per_set=5)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_AuthHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Sources(physionet_url=f"http://127.0.0.1:{server.server_port}/physionet", retries=1, timeout=5)
    server.shutdown()
    server.server_close()


def _fetch_all(sources: Sources, dest_root):
    for name in ("SHA256SUMS.txt", "Outcomes-a.txt"):
        fetch_verified(f"{REL}/{name}", dest_root / REL / name, sources)


def _no_secret_anywhere(caplog, *texts):
    blob = caplog.text + "".join(texts)
    assert PASSWORD not in blob and base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in blob


def test_without_credentials_the_error_names_the_file_and_status(credentialed, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NETRC", raising=False)
    with pytest.raises(FetchError, match=r"SHA256SUMS\.txt[\s\S]*401") as err:
        _fetch_all(credentialed, tmp_path / "resources")
    _no_secret_anywhere(caplog, str(err.value))


@pytest.mark.parametrize("source", ["environment", "netrc"])
def test_credentials_unlock_the_download_and_never_leak(credentialed, tmp_path, monkeypatch, caplog, source):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    if source == "environment":
        monkeypatch.setenv("MEDROBUST_PHYSIONET_USER", USER)
        monkeypatch.setenv("MEDROBUST_PHYSIONET_PASSWORD", PASSWORD)
    else:
        (home / ".netrc").write_text(f"machine 127.0.0.1\nlogin {USER}\npassword {PASSWORD}\n")
        (home / ".netrc").chmod(0o600)
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    resources = tmp_path / "resources"
    _fetch_all(credentialed, resources)
    assert (resources / REL / "Outcomes-a.txt").stat().st_size > 0
    manifest = build_manifest([f"resources/{REL}/Outcomes-a.txt"], credentialed, {"seed": 1})
    _no_secret_anywhere(caplog, json.dumps(manifest))


def test_environment_credentials_go_to_the_physionet_host_only():
    sources = Sources(physionet_url="https://physionet.org/files")
    env = {"MEDROBUST_PHYSIONET_USER": USER, "MEDROBUST_PHYSIONET_PASSWORD": PASSWORD, "HOME": "/nonexistent"}
    assert credentials_for("https://physionet.org/files/x", sources, env) == (USER, PASSWORD)
    assert credentials_for("https://zenodo.org/records/1/files/x", sources, env) is None


def test_a_broken_netrc_is_named_without_its_contents(tmp_path):
    bad = tmp_path / "netrc"
    bad.write_text(f"frobnicate physionet.org login {USER} password {PASSWORD}\n")
    with pytest.raises(FetchError, match="not a valid netrc") as err:
        credentials_for("https://physionet.org/files/x", Sources(), {"NETRC": str(bad)})
    assert USER not in str(err.value) and PASSWORD not in str(err.value)
