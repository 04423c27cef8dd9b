"""The gateway's services, wired once from :class:`~voxseal.config.Settings`.

The HTTPS server and every CLI command open the same :class:`Gateway`, so a user created from
the command line and a login over HTTPS go through one directory, one token authority and one
audit log. Long-lived keys live in ``<data dir>/keys`` (0600); in a cluster every node must
share that folder's files (the database is shared through PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from voxseal.audit.chain import VerifyReport
from voxseal.audit.log import AuditLog
from voxseal.audit.schema import MIGRATIONS as AUDIT_SCHEMA
from voxseal.audit.verify import verify_chain
from voxseal.config import Settings
from voxseal.identity.auth import Authenticator, AuthPolicy
from voxseal.identity.directory import Directory
from voxseal.identity.lockout import BruteForceLockout, LockoutPolicy
from voxseal.identity.passwords import PasswordHasher, PasswordParams, PasswordPolicy
from voxseal.identity.schema import MIGRATIONS as IDENTITY_SCHEMA
from voxseal.identity.sealing import SecretSealer
from voxseal.identity.tokens import RevocationList, TokenAuthority
from voxseal.identity.upgrades import upgrade_sealed_secrets
from voxseal.keyfiles import load_or_create_ed25519
from voxseal.privacy.policy import PrivacyPolicy
from voxseal.privacy.schema import MIGRATIONS as PRIVACY_SCHEMA
from voxseal.store import Database, MigrationSet, open_store
from voxseal.vault.schema import MIGRATIONS as VAULT_SCHEMA
from voxseal.vault.vault import Vault, open_vault

AUDIT_KEY = "audit-signing.key"
TOKEN_KEY = "token-signing.key"  # noqa: S105 (a file name)
SEALING_KEY = "secrets.key"

#: the schemas of the services wired here, handed to the store when a gateway opens
SCHEMAS: tuple[MigrationSet, ...] = (IDENTITY_SCHEMA, AUDIT_SCHEMA, PRIVACY_SCHEMA, VAULT_SCHEMA)


@dataclass
class Gateway:
    settings: Settings
    db: Database
    audit: AuditLog
    directory: Directory
    tokens: TokenAuthority
    authenticator: Authenticator
    vault: Vault

    @property
    def keys_dir(self) -> Path:
        return self.settings.data_dir / "keys"

    @classmethod
    def open(cls, settings: Settings) -> Gateway:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = settings.data_dir / "keys"
        keys.mkdir(exist_ok=True, mode=0o700)
        db = open_store(settings.database_url, SCHEMAS)
        try:
            audit = AuditLog(
                db,
                load_or_create_ed25519(keys / AUDIT_KEY),
                checkpoint_every=settings.audit_checkpoint_every,
            )
            pw = settings.passwords
            hasher = PasswordHasher(
                PasswordParams(
                    time_cost=pw.time_cost,
                    memory_cost=pw.memory_cost_kib,
                    parallelism=pw.parallelism,
                ),
                PasswordPolicy(min_length=pw.min_length),
            )
            sealer = SecretSealer.from_file(keys / SEALING_KEY)
            upgrade_sealed_secrets(db, sealer)
            directory = Directory(db, hasher, sealer, issuer=settings.tokens.issuer)
            t = settings.tokens
            tokens = TokenAuthority(
                load_or_create_ed25519(keys / TOKEN_KEY),
                t.issuer,
                access_ttl=t.access_ttl,
                join_ttl=t.join_ttl,
                max_join_ttl=t.max_join_ttl,
                revocations=RevocationList(db),
            )
            lo = settings.lockout
            lockout = BruteForceLockout(
                db,
                LockoutPolicy(
                    threshold=lo.threshold,
                    ip_threshold=lo.ip_threshold,
                    base_delay=lo.base_delay,
                    max_delay=lo.max_delay,
                    window=lo.window,
                ),
                audit=audit,
            )
            authenticator = Authenticator(
                directory,
                tokens,
                lockout,
                audit,
                AuthPolicy(mfa_challenge_ttl=t.mfa_challenge_ttl),
            )
            vault = open_vault(
                db,
                audit,
                settings.data_dir,
                key_provider=settings.vault.key_provider,
                allow_unredacted=settings.vault.allow_unredacted,
            )
        except BaseException:
            db.close()
            raise
        return cls(settings, db, audit, directory, tokens, authenticator, vault)

    @property
    def privacy_policy(self) -> PrivacyPolicy:
        p = self.settings.privacy
        return PrivacyPolicy(
            hipaa=p.hipaa,
            allow_recordings=p.allow_recordings_in_hipaa if p.hipaa else None,
            allow_unredacted_transcripts=self.settings.vault.allow_unredacted,
        )

    def verify_audit(self) -> VerifyReport:
        return verify_chain(self.db, [self.audit_public_key()])

    def audit_public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.audit.public_key_raw)

    def close(self) -> None:
        """Drain the audit queue, write the shutdown checkpoint, release the database."""
        try:
            self.audit.close()
        finally:
            self.db.close()
