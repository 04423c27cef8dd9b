"""The ingress's tables: what several ``voxseal telephony`` processes must agree on.

* ``telephony_used_stream_tokens``: the ``jti`` of every redeemed stream token until it
  expires. The primary key makes redemption one atomic insert, so a token replayed to another
  ingress node (a leaked TwiML, a retried WebSocket) loses the race there too.
* ``telephony_pending_calls``: what a webhook learnt about a call (its caller's pseudonymous
  subject id) for the media stream to pick up, on whichever node the stream lands. Rows live
  as long as the stream token; the phone number itself is never stored.

Migrated by the ingress when it opens them (as the vault does), so ``serve`` never imports
the telephony package.
"""

from __future__ import annotations

from voxseal.store.migrations import Migration, MigrationSet

_V1 = """
CREATE TABLE telephony_used_stream_tokens (
    jti TEXT PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX telephony_used_stream_tokens_expiry ON telephony_used_stream_tokens (expires_at);
CREATE TABLE telephony_pending_calls (
    provider TEXT NOT NULL,
    call_id TEXT NOT NULL,
    subject_id TEXT,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (provider, call_id)
);
CREATE INDEX telephony_pending_calls_expiry ON telephony_pending_calls (expires_at);
"""

MIGRATIONS = MigrationSet(
    "telephony",
    (Migration(1, "used stream tokens and pending calls, shared by ingress nodes", _V1, _V1),),
)
