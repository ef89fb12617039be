"""Decoding serialised Clarity values; the hex was produced by @stacks/transactions (`serializeCV`)."""

from __future__ import annotations

import pytest

from tasks.clarity import (
    Ascii,
    ClarityError,
    Err,
    Int,
    Ok,
    Principal,
    Some,
    UInt,
    Utf8,
    c32_address,
    c32_decode,
    decode,
    encode,
)
from tests.tasks.conftest import OWNER, WALLET

pytestmark = pytest.mark.database_independent

MIXED = (
    "0x0b0000000700fffffffffffffffffffffffffffffffb02000000030102ff09070d000000026869080100000000000000000000000000"
    "000003051a00000000000000000000000000000000000000000e0000000a68c3a96c6c6f20e29c93"
)


def test_every_value_type_decodes_as_the_library_encoded_it() -> None:
    assert decode(MIXED) == [
        -5,
        b"\x01\x02\xff",
        None,
        Ok("hi"),
        Err(3),
        "ST000000000000000000002AMW42H",
        "héllo ✓",
    ]


def test_addresses_round_trip_through_c32check() -> None:
    hash160 = bytes.fromhex("a46ff88886c2ef9762d970b4d2c63678835bd39d")
    assert c32_address(22, hash160) == WALLET


@pytest.mark.parametrize("bad", ["0x", "0x01", "0x0c00000001", "zz", "0x0303", "0xff"])
def test_malformed_values_are_refused(bad: str) -> None:
    with pytest.raises(ClarityError):
        decode(bad)


def test_encoded_values_decode_to_what_was_encoded() -> None:
    contract = f"{WALLET}.bloom-action-proposal-voting"
    value = {
        "n": UInt(2**100),
        "i": Int(-7),
        "p": Principal(contract),
        "w": Principal(OWNER),
        "s": Some(Ascii("memo")),
        "u": Utf8("héllo ✓"),
        "b": b"\x00\x01",
        "none": None,
        "ok": Ok(True),
        "l": [False],
    }
    assert decode("0x" + encode(value).hex()) == {
        "n": 2**100,
        "i": -7,
        "p": contract,
        "w": OWNER,
        "s": "memo",
        "u": "héllo ✓",
        "b": b"\x00\x01",
        "none": None,
        "ok": Ok(True),
        "l": [False],
    }
    assert encode(UInt(5)).hex() == "0100000000000000000000000000000005"  # as serializeCV writes it


def test_c32_addresses_decode_to_their_version_and_hash() -> None:
    assert c32_decode(WALLET) == (22, bytes.fromhex("a46ff88886c2ef9762d970b4d2c63678835bd39d"))
    with pytest.raises(ClarityError, match="checksum"):
        c32_decode(WALLET[:-1] + ("8" if WALLET[-1] != "8" else "9"))
