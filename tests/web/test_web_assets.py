"""The committed call-page assets are exactly what ``web/build.mjs`` makes from ``web/src``.

``pip install -e . && voxseal demo`` must work without npm, so the built files are committed in
``src/voxseal/web/static/call``; these tests make sure nobody forgets to rebuild them. The first
test needs only Python (hashes in the manifest against the sources); the second rebuilds with
esbuild into a temporary directory and compares byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.harness.browser import WEB_DIR, require_node
from voxseal.web.assets import MANIFEST, STATIC_DIR, AssetsMissing, call_assets

REBUILD = "run `npm ci && npm run build` in web/ and commit src/voxseal/web/static/call"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest() -> dict:  # type: ignore[type-arg]
    return json.loads(MANIFEST.read_text())  # type: ignore[no-any-return]


def test_the_manifest_matches_the_sources() -> None:
    m = manifest()
    stale = [src for src, digest in m["sources"].items() if sha256(WEB_DIR / src) != digest]
    assert not stale, f"changed since the last build: {stale}; {REBUILD}"
    assert sha256(WEB_DIR / "package-lock.json") == m["lock"]["package-lock.json"], REBUILD
    assert sha256(WEB_DIR / "build.mjs") == m["build"]["build.mjs"], REBUILD
    # every page source is in the build (a new module that nothing imports would be dead code)
    page_sources = {p.relative_to(WEB_DIR).as_posix() for p in (WEB_DIR / "src" / "call").iterdir()}
    assert page_sources <= set(m["sources"]), f"not built: {page_sources - set(m['sources'])}"


def test_exactly_the_built_files_are_shipped() -> None:
    m = manifest()
    shipped = sorted(p.relative_to(STATIC_DIR).as_posix() for p in (STATIC_DIR / "call").iterdir())
    assert shipped == sorted([*m["outputs"], "call/manifest.json"]), REBUILD
    assets = call_assets()
    assert {assets.main, assets.worker, assets.css} <= set(assets.files)
    for name, asset in assets.files.items():
        assert asset.body == (STATIC_DIR / name).read_bytes()
        # content-addressed names: what makes the year-long immutable caching safe
        assert name.split("/")[-1].count("-") == 1


def test_a_rebuild_reproduces_the_committed_assets(tmp_path: Path) -> None:
    require_node()
    out = tmp_path / "call"
    proc = subprocess.run(
        ["node", "build.mjs", "--outdir", str(out)],
        cwd=WEB_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    rebuilt = sorted(p.name for p in out.iterdir())
    committed = sorted(p.name for p in (STATIC_DIR / "call").iterdir())
    assert rebuilt == committed, f"{REBUILD} (names differ: {rebuilt} vs {committed})"
    for name in rebuilt:
        assert (out / name).read_bytes() == (STATIC_DIR / "call" / name).read_bytes(), (
            f"{name} differs; {REBUILD}"
        )


def test_missing_or_damaged_assets_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AssetsMissing, match="npm run build"):
        call_assets(tmp_path / "call" / "manifest.json")
    (tmp_path / "call").mkdir()
    (tmp_path / "call" / "manifest.json").write_text("{not json")
    with pytest.raises(AssetsMissing):
        call_assets(tmp_path / "call" / "manifest.json")
    m = manifest()
    (tmp_path / "call" / "manifest.json").write_text(json.dumps(m))  # names files not there
    with pytest.raises(AssetsMissing, match="main asset") as refused:
        call_assets(tmp_path / "call" / "manifest.json")
    assert refused.value.http_status == 503
