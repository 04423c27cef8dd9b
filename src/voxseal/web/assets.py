"""The built browser assets shipped in the package, and how they are looked up and served.

``web/build.mjs`` bundles ``web/src`` into ``static/call/`` with content-hashed file names and
writes ``static/call/manifest.json``: which output file is which entry point, and the SHA-256 of
every source file and of the npm lock file that produced them (a test rebuilds and compares).
Why content-hashed names: the files can be cached for a year (``immutable``) and a new build can
never be half-cached, since the page names the exact files it needs.

Only files the manifest lists are served: the set is fixed when the package is built, so there
is no path on disk a request can reach by ``..`` or a symlink.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from voxseal.errors import VoxsealError

STATIC_DIR = Path(__file__).resolve().parent / "static"
MANIFEST = STATIC_DIR / "call" / "manifest.json"

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


class AssetsMissing(VoxsealError):
    """The package was built or installed without the call page's assets (HTTP 503)."""

    reason = "web_assets_missing"
    http_status = 503


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@dataclass(frozen=True)
class CallAssets:
    """The call page's files, by role (paths relative to ``/static/``)."""

    main: str
    worker: str
    css: str
    files: dict[str, Asset]


@lru_cache(maxsize=1)
def call_assets(manifest_path: Path = MANIFEST) -> CallAssets:
    """Read the manifest and every file it names, once (they are small and immutable)."""
    static_dir = manifest_path.parent.parent
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = manifest["entries"]
        names = {role: str(entries[role]) for role in ("main", "worker", "css")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AssetsMissing(
            f"the call page's assets are missing or damaged ({manifest_path}): "
            "run `npm ci && npm run build` in web/, or reinstall voxseal"
        ) from exc
    files: dict[str, Asset] = {}
    for rel in manifest.get("outputs", []):
        path = static_dir / rel
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        files[rel] = Asset(body, content_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    for role, rel in names.items():
        if rel not in files:
            raise AssetsMissing(
                f"the call page's {role} asset {rel!r} is missing from {static_dir}"
            )
    return CallAssets(names["main"], names["worker"], names["css"], files)
