"""Constants the identity tests share (test modules import them from here, not from conftest)."""

from __future__ import annotations

from voxseal.identity.passwords import PasswordParams

#: cheap argon2 so the tests stay fast; production keeps the defaults
CHEAP = PasswordParams(time_cost=1, memory_cost=64, parallelism=1)
PASSWORD = "correct horse battery staple"
