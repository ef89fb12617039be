"""The print events of a DAO's voting contract that the pipeline acts on.

A DAO's contract prints `{notification: <name>, payload: {...}}` (the aibtc DAO
convention). Three notifications matter here:

| notification | payload keys read |
| --- | --- |
| `create-action-proposal` | `proposalId`, `creator`, `memo`?, `voteStart`, `voteEnd`, `execStart`?, `createdBtc`? |
| `vote-on-action-proposal` | `proposalId`, `voter`, `vote` (bool) |
| `conclude-action-proposal` | `proposalId`, `passed` (bool) |

Anything else, or a payload without the keys, is ignored (and counted as ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.clarity import ClarityError, decode


@dataclass(frozen=True)
class ProposalCreated:
    onchain_id: int
    creator: str
    memo: str
    created_at: int | None
    starts_at: int
    ends_at: int
    executes_at: int | None


@dataclass(frozen=True)
class VoteCast:
    onchain_id: int
    voter: str
    approve: bool


@dataclass(frozen=True)
class ProposalConcluded:
    onchain_id: int
    passed: bool


DaoEvent = ProposalCreated | VoteCast | ProposalConcluded


def _int(payload: dict[str, Any], key: str) -> int:
    value = payload[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(key)
    return value


def _optional_int(payload: dict[str, Any], key: str) -> int | None:
    return _int(payload, key) if payload.get(key) is not None else None


def _bool(payload: dict[str, Any], key: str) -> bool:
    value = payload[key]
    if not isinstance(value, bool):
        raise TypeError(key)
    return value


def parse(hex_value: str) -> DaoEvent | None:
    """The DAO event a print event's value stands for, or None if it is not one we act on."""
    try:
        value = decode(hex_value)
    except (ClarityError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("payload"), dict):
        return None
    notification, payload = value.get("notification"), value["payload"]
    try:
        if notification == "create-action-proposal":
            memo = payload.get("memo")
            return ProposalCreated(
                onchain_id=_int(payload, "proposalId"),
                creator=str(payload.get("creator") or ""),
                memo=memo if isinstance(memo, str) else "",
                created_at=_optional_int(payload, "createdBtc"),
                starts_at=_int(payload, "voteStart"),
                ends_at=_int(payload, "voteEnd"),
                executes_at=_optional_int(payload, "execStart"),
            )
        if notification == "vote-on-action-proposal":
            return VoteCast(_int(payload, "proposalId"), str(payload["voter"]), _bool(payload, "vote"))
        if notification == "conclude-action-proposal":
            return ProposalConcluded(_int(payload, "proposalId"), _bool(payload, "passed"))
    except (KeyError, TypeError):
        return None
    return None
