"""Child process for the durability test: append from several threads, print each acked seq.

Usage: ``python appender.py DATABASE_URL KEY_PATH``. A line ``<seq>`` is printed (and
flushed) only after ``record`` returned, i.e. after the commit; the parent then kills us -9.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from voxseal.audit import AuditAction, AuditEvent, AuditLog
from voxseal.audit.schema import MIGRATIONS
from voxseal.keyfiles import load_or_create_ed25519
from voxseal.store import open_store


def main() -> None:
    url, key_path = sys.argv[1], Path(sys.argv[2])
    db = open_store(url, migrations=[MIGRATIONS])
    log = AuditLog(db, load_or_create_ed25519(key_path), checkpoint_every=25)
    out = threading.Lock()

    def worker(k: int) -> None:
        i = 0
        while True:
            seq = log.record(AuditEvent(AuditAction.AUDIT_READ, actor=f"w{k}", details={"i": i}))
            with out:
                sys.stdout.write(f"{seq}\n")
                sys.stdout.flush()
            i += 1

    for k in range(4):
        threading.Thread(target=worker, args=(k,), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
