"""Downloads: verified, atomic, with a progress bar; safe tar extraction.

A file is streamed into a temporary file beside its destination, its MD5 checked
against the canonical value, then renamed into place: a failed, interrupted or
mismatching transfer leaves nothing behind. ``base_url`` replaces the dataset's
mirrors (a local mirror, or a loopback server in the tests).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from aelab.atomic import atomic_file
from aelab.data import cifar
from aelab.data.resolve import download_dir
from aelab.data.sources import DataFile, Source, get_source
from aelab.errors import DataError

CHUNK = 1 << 20


def download_file(
    url: str,
    dest: str | Path,
    *,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``url`` to ``dest`` atomically; a size or MD5 mismatch raises DataError."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        digest = hashlib.md5()
        received = 0
        with atomic_file(dest) as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                disable=not progress,
                leave=False,
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            # checked before the block ends: a failed check leaves nothing behind
            if total is not None and received != total:
                raise DataError(
                    f"{url}: the transfer broke off after {received:,} of {total:,} bytes; "
                    "nothing was kept. Run the command again."
                )
            if md5 is not None and digest.hexdigest() != md5:
                raise DataError(
                    f"{url}: checksum mismatch (expected MD5 {md5}, found {digest.hexdigest()}); "
                    "the file was not kept. The mirror may serve a different or corrupt file: "
                    "try another mirror or download it by hand and pass --data-dir."
                )
        return dest
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise DataError(f"{url}: download failed ({exc}); nothing was kept.") from None


def _member_problem(member: tarfile.TarInfo, root: Path) -> str | None:
    if not (member.isfile() or member.isdir()):
        return "is a link or special file"
    target = (root / member.name).resolve()
    if os.path.isabs(member.name) or not target.is_relative_to(root):
        return "leaves the target folder"
    return None


def safe_extract(archive: str | Path, dest: str | Path) -> list[Path]:
    """Extract regular files and folders of ``archive`` into ``dest``.

    Refuses (DataError, nothing extracted) members whose path leaves ``dest`` (absolute
    paths, ``..``) and links or device files.
    """
    archive, root = Path(archive), Path(dest).resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                problem = _member_problem(member, root)
                if problem:
                    raise DataError(
                        f"{archive}: refusing to extract member {member.name!r}: it {problem}. "
                        "The archive is not a genuine dataset archive; delete it."
                    )
            root.mkdir(parents=True, exist_ok=True)
            tar.extractall(root, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(
            f"{archive}: not a readable tar archive ({exc}). Delete it and fetch again."
        ) from None
    return [root / m.name for m in members if m.isfile()]


def _fetch_file(
    source: Source, data_file: DataFile, target: Path, base_url: str | None, progress: bool
) -> Path:
    urls = [base_url.rstrip("/") + "/" + data_file.filename] if base_url else source.urls(data_file)
    errors = []
    for url in urls:
        try:
            return download_file(
                url, target / data_file.filename, md5=data_file.md5, progress=progress
            )
        except DataError as exc:
            errors.append(str(exc))
    raise DataError(
        f"{source.name}: could not download {data_file.filename}: " + " | ".join(errors)
    )


def fetch(
    name: str | Source,
    *,
    data_dir: str | Path | None = None,
    base_url: str | None = None,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Download every file of dataset ``name`` and return the folder holding them.

    The folder is ``data_dir``, else ``$AELAB_DATA_DIR/<name>``, else the user cache.
    Files already there are kept unless ``force``. CIFAR-10's archive is also extracted
    (safely) so later loads read the ``.bin`` batches directly.
    """
    source = name if isinstance(name, Source) else get_source(name)
    target = download_dir(source, data_dir)
    for data_file in source.files:
        path = target / data_file.filename
        if force or not path.is_file():
            _fetch_file(source, data_file, target, base_url, progress)
    if source.format == "cifar" and (force or cifar.batch_dir(target) is None):
        safe_extract(target / source.file("archive").filename, target)
    return target
