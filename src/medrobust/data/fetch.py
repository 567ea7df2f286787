"""Downloads from the publishers or an offline mirror, verified, atomic and retried.

A file is first fetched to a temporary name beside its destination, verified, and only then
renamed into place: a file that fails verification is deleted and never looks valid.

Credentials (for credentialed PhysioNet projects) come from the environment
(``MEDROBUST_PHYSIONET_USER`` and ``MEDROBUST_PHYSIONET_PASSWORD``, sent to the PhysioNet host only)
or from ``~/.netrc`` (any host, by its ``machine`` entry; ``NETRC`` names another file). They go into
an HTTP Basic header that is not repeated on redirects, and never into a URL, a log line, an error
message or the manifest.
"""
from __future__ import annotations

import base64
import logging
import netrc
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from medrobust.core.io import atomic_path
from medrobust.data import registry

log = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """No source could deliver a valid copy of a file."""


@dataclass(frozen=True)
class Sources:
    """Where files come from: a local mirror folder first (if set), then the publishers."""

    mirror: Path | None = None
    physionet_url: str = registry.PHYSIONET_URL
    zenodo_url: str = registry.ZENODO_URL
    retries: int = 3
    timeout: float = 60.0
    offline: bool = False
    # MD5s that replace medmnist.INFO's for named flags (a locally rebuilt file, or a test fixture).
    medmnist_md5: tuple[tuple[str, str], ...] = ()

    def url_for(self, relpath: str) -> str:
        kind, rest = relpath.split("/", 1)
        if kind == "physionet":
            return f"{self.physionet_url.rstrip('/')}/{rest}"
        if kind == "zenodo":
            record, name = rest.split("/", 1)
            return f"{self.zenodo_url.rstrip('/')}/{record}/files/{name}?download=1"
        raise ValueError(f"{relpath}: no publisher URL pattern for {kind!r}")


def fetch(relpath: str, dest: str | os.PathLike, sources: Sources,
          verify: Callable[[Path, str], None]) -> str:
    """Put a verified copy of ``relpath`` at ``dest``; return a description of the source used.

    ``verify(tmp_path, label)`` raises if the bytes are wrong; nothing unverified reaches ``dest``.
    """
    dest = Path(dest)
    attempts: list[str] = []
    if sources.mirror is not None:
        candidate = Path(sources.mirror) / relpath
        if candidate.is_file():
            with atomic_path(dest) as tmp:
                shutil.copyfile(candidate, tmp)
                verify(tmp, f"{candidate} (mirror)")
            return f"mirror:{candidate}"
        attempts.append(f"mirror {candidate}: no such file")
    if not sources.offline:
        url = sources.url_for(relpath)
        try:
            _download_verified(url, dest, sources, verify)
            return url
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            attempts.append(f"{url}: {exc}")
    raise FetchError(_not_found_message(relpath, dest, attempts))


def _download_verified(url: str, dest: Path, sources: Sources, verify: Callable[[Path, str], None]) -> None:
    for attempt in range(1, sources.retries + 1):
        try:
            with atomic_path(dest) as tmp:
                _download(url, tmp, sources.timeout, credentials_for(url, sources))
                verify(tmp, url)
            return
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == sources.retries:  # a 404 will not change on retry
                raise
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            if attempt == sources.retries or _is_unreachable(exc):
                raise
        log.warning("retrying %s (attempt %d of %d)", url, attempt + 1, sources.retries)
        time.sleep(min(2 ** attempt, 10))


def credentials_for(url: str, sources: Sources, environ: dict | None = None) -> tuple[str, str] | None:
    """(user, password) for ``url``'s host: the environment for PhysioNet, else ~/.netrc, else None."""
    environ = os.environ if environ is None else environ
    host = urlsplit(url).hostname or ""
    user, password = environ.get("MEDROBUST_PHYSIONET_USER"), environ.get("MEDROBUST_PHYSIONET_PASSWORD")
    if user and password and host == urlsplit(sources.physionet_url).hostname:
        return user, password
    path = Path(environ.get("NETRC") or Path(environ.get("HOME", "~")).expanduser() / ".netrc")
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except netrc.NetrcParseError as exc:  # the message quotes no secret, only the file and line
        raise FetchError(f"{path}: not a valid netrc file (line {exc.lineno})") from None
    return (entry[0], entry[2]) if entry and entry[0] and entry[2] else None


def _download(url: str, tmp: Path, timeout: float, credentials: tuple[str, str] | None = None) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "medrobust"})
    if credentials:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
        expected = response.headers.get("Content-Length")
        shutil.copyfileobj(response, out, 1 << 20)
    got = tmp.stat().st_size
    if expected is not None and got != int(expected):
        raise OSError(f"truncated download: {got} of {expected} bytes")


def _is_unreachable(exc: Exception) -> bool:
    # No DNS / no route: retrying an unreachable host only wastes the user's time.
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, OSError) and not isinstance(reason, TimeoutError)


def _not_found_message(relpath: str, dest: Path, attempts: list[str]) -> str:
    tried = "\n  ".join(attempts) or "(no source configured)"
    return (f"could not fetch {relpath}\n  {tried}\n"
            f"To pre-stage it, put the publisher's file at {dest}, or point the workflow at a folder "
            f"that mirrors the publishers' layout (make reproduce MIRROR=<dir>, env MEDROBUST_MIRROR, "
            f"or data.mirror in the config) holding <dir>/{relpath}.")


def verifier_for(relpath: str, dest: Path, sources: Sources | None = None) -> Callable[[Path, str], None]:
    """How a file is checked: against the version's SHA256SUMS.txt (PhysioNet) or the MedMNIST MD5."""
    from medrobust.data import verify

    name = Path(relpath).name
    if name == "SHA256SUMS.txt":
        return lambda tmp, label: _check_sums_file(tmp, label)
    dataset = registry.dataset_of_path(relpath)
    if dataset.checksum == "sha256sums":
        member = relpath[len(dataset.prefix) + 1:]
        # The version's checksum list sits at its root, also for files in sub-folders (hosp/, icu/).
        sums_file = Path(str(dest)[: -len(member)]) / "SHA256SUMS.txt"
        return lambda tmp, label: verify.check_digest(tmp, verify.expected_sha256(sums_file, member),
                                                      "sha256", label)
    flag, size = _medmnist_flag_size(name)
    overrides = dict(sources.medmnist_md5) if sources else {}
    md5 = overrides.get(Path(name).stem) or registry.medmnist_md5(flag, size)
    return lambda tmp, label: verify.check_digest(tmp, md5, "md5", label)


def fetch_verified(relpath: str, dest: str | os.PathLike, sources: Sources) -> str:
    return fetch(relpath, dest, sources, verifier_for(relpath, Path(dest), sources))


def _check_sums_file(tmp: Path, label: str) -> None:
    from medrobust.data import verify

    try:
        verify.read_sha256sums(tmp)
    except verify.VerificationError as exc:
        raise verify.VerificationError(str(exc).replace(str(tmp), label)) from None


def _medmnist_flag_size(name: str) -> tuple[str, int]:
    stem = name.removesuffix(".npz")
    flag, _, size = stem.rpartition("_")
    return (flag, int(size)) if size.isdigit() else (stem, 28)
