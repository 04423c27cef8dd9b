"""Recovery codes: format, entropy, hashed storage, single use, atomic consumption."""

from __future__ import annotations

import re
import threading

import pytest

from voxseal.identity.recovery import (
    RECOVERY_CODE_COUNT,
    RecoveryCodes,
    generate_code,
    hash_code,
    looks_like_recovery_code,
    normalise,
)

CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


@pytest.fixture
def owner(directory) -> str:
    return directory.create_user("rita", ["caller"], "a long enough password").id


def test_format_and_entropy() -> None:
    codes = {generate_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert CODE_RE.match(code), code
    # 16 symbols of a 32-letter alphabet = 80 bits
    assert len(normalise(generate_code())) * 5 == 80


def test_normalisation_is_forgiving_but_strict_about_shape() -> None:
    code = "7K3Q-M9XD-2HWR-P0TB"
    assert normalise(code) == "7K3QM9XD2HWRP0TB"
    assert normalise("7k3q m9xd 2hwr potb") == "7K3QM9XD2HWRP0TB"  # O read as 0
    assert normalise("7K3QM9XD2HWRP0T") is None
    assert normalise("7K3Q-M9XD-2HWR-P0TU") is None  # U is not in the alphabet
    assert normalise("123456") is None
    assert not looks_like_recovery_code("123456")
    assert looks_like_recovery_code(code)


def test_hash_binds_the_principal() -> None:
    code = generate_code()
    assert hash_code("a", code) != hash_code("b", code)
    assert hash_code("a", code) == hash_code("a", code.lower().replace("-", " "))


def test_ten_codes_single_use(db, owner, clock) -> None:
    store = RecoveryCodes(db, clock=clock)
    codes = store.replace(owner)
    assert len(codes) == RECOVERY_CODE_COUNT == 10
    assert len(set(codes)) == 10
    assert store.remaining(owner) == 10
    assert store.consume(owner, codes[3]) is True
    assert store.consume(owner, codes[3]) is False
    assert store.consume(owner, codes[3].lower()) is False
    assert store.remaining(owner) == 9
    assert store.consume(owner, generate_code()) is False
    assert store.consume(owner, "not a code") is False


def test_codes_are_stored_hashed(db, owner, clock) -> None:
    codes = RecoveryCodes(db, clock=clock).replace(owner)
    dump = repr(db.execute("SELECT * FROM identity_recovery_codes"))
    for code in codes:
        assert code not in dump and normalise(code) not in dump


def test_replace_invalidates_old_set(db, owner, clock) -> None:
    store = RecoveryCodes(db, clock=clock)
    old = store.replace(owner)
    new = store.replace(owner)
    assert store.consume(owner, old[0]) is False
    assert store.consume(owner, new[0]) is True


def test_other_principals_code_is_refused(db, directory, owner, clock) -> None:
    other = directory.create_user("sam", ["caller"], "a long enough password").id
    store = RecoveryCodes(db, clock=clock)
    mine = store.replace(owner)
    store.replace(other)
    assert store.consume(other, mine[0]) is False
    assert store.consume(owner, mine[0]) is True


def test_concurrent_consumption_succeeds_once(db, owner, clock) -> None:
    store = RecoveryCodes(db, clock=clock)
    code = store.replace(owner)[0]
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def use() -> None:
        barrier.wait()
        results.append(store.consume(owner, code))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
