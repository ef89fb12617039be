"""Decoding serialised Clarity values; the hex was produced by @stacks/transactions (`serializeCV`)."""

from __future__ import annotations

import pytest

from tasks.clarity import ClarityError, Err, Ok, c32_address, decode
from tasks.events import ProposalConcluded, ProposalCreated, VoteCast, parse
from tests.tasks.conftest import OWNER, WALLET
from tests.tasks.recorded import load

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


def test_the_dao_notifications_are_recognised() -> None:
    recorded = load("stacks_api/block_150000_creates_proposal_7.json")
    (events_page,) = [v for k, v in recorded.items() if k.startswith("/extended/v1/tx/events")]
    created = parse(events_page["events"][0]["contract_log"]["value"]["hex"])
    assert created == ProposalCreated(
        onchain_id=7,
        creator=OWNER,
        memo="Fund the docs\nPay two writers for a month.",
        created_at=870000,
        starts_at=870012,
        ends_at=870156,
        executes_at=870168,
    )
    later = load("stacks_api/block_150100_votes_and_concludes_proposal_7.json")
    prints = [v["events"][0]["contract_log"]["value"]["hex"] for k, v in later.items() if "tx/events" in k]
    assert [parse(p) for p in prints] == [VoteCast(7, OWNER, True), ProposalConcluded(7, True)]


def test_other_prints_are_not_dao_events() -> None:
    transfer = (
        "0x0c000000020c6e6f74696669636174696f6e0d000000087472616e73666572077061796c6f61640c0000000106616d6f756e7401"
        "00000000000000000000000000000005"
    )
    assert parse(transfer) is None
    assert parse("0x0703") is None  # (ok true), not a tuple
    assert parse("0x0c") is None  # broken
