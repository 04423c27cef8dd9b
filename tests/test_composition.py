"""Every component's schema is handed to the store by the process that runs the component.

The store names no component, so a package that adds a ``schema.py`` and forgets to hand it
in at start-up would only fail at its first query in production. This finds every
``schema.py`` on disk (not a registry that could forget the same one), starts the gateway's
application and the telephony ingress on one database, and checks each schema's last version
is applied.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest

from voxseal.app import create_app
from voxseal.config import load_settings
from voxseal.gateway import Gateway
from voxseal.store import MigrationSet
from voxseal.telephony.ingress import GatewayAccess, Ingress

SRC = Path(__file__).resolve().parents[1] / "src"
CHEAP = {
    "VOXSEAL_PASSWORDS_TIME_COST": "1",
    "VOXSEAL_PASSWORDS_MEMORY_COST_KIB": "1024",
    "VOXSEAL_PASSWORDS_PARALLELISM": "1",
    "VOXSEAL_TWILIO_AUTH_TOKEN": "composition-test-token",
}


def schemas_on_disk() -> dict[str, MigrationSet]:
    found = {}
    for path in sorted((SRC / "voxseal").rglob("schema.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        migrations = importlib.import_module(name).MIGRATIONS
        assert isinstance(migrations, MigrationSet), name
        found[name] = migrations
    return found


def test_the_schemas_are_found() -> None:
    """The discovery itself can fail: it sees the components known today."""
    components = {m.component for m in schemas_on_disk().values()}
    assert {"identity", "audit", "privacy", "vault", "dashboard", "telephony"} <= components


def test_every_schema_is_migrated_at_start_up(database_url: str, data_dir: Path) -> None:
    settings = load_settings(
        env=CHEAP, overrides={"data_dir": str(data_dir), "database_url": database_url}
    )
    gw = Gateway.open(settings)
    try:
        create_app(gw, close_on_shutdown=False)
        access = GatewayAccess("https://localhost:1", "vxk_unused_unused", ca_file=None)
        Ingress(gw, settings, access, ssl_ca=None)
        asyncio.run(access.aclose())
        applied = gw.db.schema_versions()
    finally:
        gw.close()
    missing = {
        name: (m.component, m.migrations[-1].version, applied.get(m.component))
        for name, m in schemas_on_disk().items()
        if applied.get(m.component) != m.migrations[-1].version
    }
    assert missing == {}


@pytest.mark.parametrize("name", sorted(schemas_on_disk()))
def test_component_names_are_unique(name: str) -> None:
    components = [m.component for m in schemas_on_disk().values()]
    assert components.count(schemas_on_disk()[name].component) == 1
