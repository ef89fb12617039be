"""Reading a print of an aibtc contract as one of its notifications (the facts: `tasks.aibtc.payloads`;
a proposal's text: `tasks.aibtc.parameters`, both re-exported here for the modules that read prints).

A print reaches us in two shapes, normalised by `normalise` to one: the consensus serialisation
decoded by `tasks.clarity.decode` (Chainhook with `decode_clarity_values: false`, the Stacks
API), or Chainhook's JSON rendering (`decode_clarity_values: true`): numbers for `uint`,
`"0x..."` for buffers, strings for principals, `null` for `none`, the inner value for `some`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tasks.aibtc.parameters import METADATA_MARKER, ProposalText, proposal_text
from tasks.aibtc.payloads import (
    ACCOUNT_EVENTS_NOT_READ,
    ACCOUNT_NOTIFICATIONS,
    AGENT_ACCOUNT_TEMPLATE,
    VOTING_EXTENSION_TEMPLATE,
    VOTING_NOTIFICATIONS,
    AccountConcluded,
    AccountEvent,
    AccountProposalCreated,
    AccountVetoed,
    AccountVoted,
    ClarityType,
    DaoEvent,
    ExecutionFailed,
    Notification,
    ProposalConcluded,
    ProposalCreated,
    VetoCast,
    VoteCast,
)
from tasks.clarity import ClarityError, decode

__all__ = [
    "ACCOUNT_EVENTS_NOT_READ",
    "ACCOUNT_NOTIFICATIONS",
    "AGENT_ACCOUNT_TEMPLATE",
    "MAX_AMOUNT",
    "METADATA_MARKER",
    "VOTING_EXTENSION_TEMPLATE",
    "VOTING_NOTIFICATIONS",
    "AccountConcluded",
    "AccountEvent",
    "AccountProposalCreated",
    "AccountVetoed",
    "AccountVoted",
    "ClarityType",
    "DaoEvent",
    "ExecutionFailed",
    "Notification",
    "NotificationError",
    "ProposalConcluded",
    "ProposalCreated",
    "ProposalText",
    "VetoCast",
    "VoteCast",
    "as_data",
    "from_data",
    "normalise",
    "parse_account",
    "parse_voting",
    "proposal_text",
    "split_name",
]

# Largest amount a column holds (a signed 64-bit integer). An aibtc token's whole supply in base
# units is 1e9 tokens x 1e8 = 1e17, far below; a bigger value is refused as not understood.
MAX_AMOUNT = 2**63 - 1


class NotificationError(ValueError):
    """A print that names a known notification but whose payload does not match its fields."""


def normalise(value: Any) -> Any:
    """A print's value in one shape: a `raw_value` / API `hex` string is decoded, Chainhook's decoded
    JSON is returned as is (its `"0x..."` buffers are read per field by `parse`)."""
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return decode(value)
        except (ClarityError, UnicodeDecodeError):
            return value
    return value


def split_name(notification: str) -> tuple[str, str]:
    """`faces2-action-proposal-voting/vote-on-action-proposal` -> (`faces2-action-proposal-voting`, `vote-on-...`)."""
    contract, slash, event = notification.rpartition("/")
    return (contract, event) if slash else ("", notification)


def _field(payload: dict[str, Any], key: str, kind: ClarityType) -> Any:
    if key not in payload:
        raise NotificationError(f"the payload has no {key!r}")
    value = payload[key]
    if kind is ClarityType.UINT:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
            raise NotificationError(f"{key!r} is not a uint up to {MAX_AMOUNT}: {value!r}")
        return value
    if kind is ClarityType.BOOL:
        if not isinstance(value, bool):
            raise NotificationError(f"{key!r} is not a bool: {value!r}")
        return value
    if kind is ClarityType.PRINCIPAL:
        if not isinstance(value, str) or not value.startswith("S"):
            raise NotificationError(f"{key!r} is not a principal: {value!r}")
        return value
    if kind is ClarityType.PARAMETERS:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str) and value.startswith("0x"):
            try:
                return bytes.fromhex(value[2:])
            except ValueError:
                pass
        raise NotificationError(f"{key!r} is not a buffer: {value!r}"[:200])
    if value is not None and not isinstance(value, str):  # MEMO: none, or the string of `some`
        raise NotificationError(f"{key!r} is not an optional string: {value!r}"[:200])
    return value


def _build(cls: type[Notification], payload: dict[str, Any]) -> Notification:
    values = {attr: _field(payload, key, kind) for key, (attr, kind) in cls.FIELDS.items()}
    return cls(**values)


def parse_voting(value: Any) -> DaoEvent:
    """The notification a voting extension printed.

    Raises NotificationError for a print that is not one of its notifications, or whose payload
    does not have the notification's fields with their types (the extension prints nothing else)."""
    event, payload = _envelope(value)
    if event == ProposalConcluded.EVENT and set(payload) == set(ExecutionFailed.FIELDS):
        return _build(ExecutionFailed, payload)  # type: ignore[return-value]
    for cls in (ProposalCreated, VoteCast, VetoCast, ProposalConcluded):
        if event == cls.EVENT:
            return _build(cls, payload)  # type: ignore[return-value]
    raise NotificationError(f"unknown voting extension notification {event!r}")


def parse_account(value: Any) -> AccountEvent | None:
    """The notification an agent account printed, None for its notifications not read here.

    Raises NotificationError for a print that is not an agent-account notification."""
    prefix, event, payload = _envelope_named(value)
    if prefix != AGENT_ACCOUNT_TEMPLATE:
        raise NotificationError(
            f"an agent account printed {prefix}/{event}, not an {AGENT_ACCOUNT_TEMPLATE} notification"
        )
    if event in ACCOUNT_EVENTS_NOT_READ:
        return None
    for cls in ACCOUNT_NOTIFICATIONS:
        if event == cls.EVENT:
            return _build(cls, payload)  # type: ignore[return-value]
    raise NotificationError(f"unknown agent account notification {event!r}")


def _envelope_named(value: Any) -> tuple[str, str, dict[str, Any]]:
    value = normalise(value)
    if not isinstance(value, dict) or not isinstance(value.get("notification"), str):
        raise NotificationError("the print is not a {notification, payload} tuple")
    if not isinstance(value.get("payload"), dict):
        raise NotificationError(f"{value['notification']!r} has no payload tuple")
    prefix, event = split_name(value["notification"])
    return prefix, event, value["payload"]


def _envelope(value: Any) -> tuple[str, dict[str, Any]]:
    prefix, event, payload = _envelope_named(value)
    if not prefix.endswith(VOTING_EXTENSION_TEMPLATE.removeprefix("aibtc")):
        raise NotificationError(f"{prefix}/{event} is not a voting extension's notification")
    return event, payload


def as_data(event: Notification) -> dict[str, Any]:
    """The event's fields as JSON-ready data (buffers as `0x` hex), for parking and job results."""
    data = dataclasses.asdict(event)
    return {key: ("0x" + value.hex() if isinstance(value, bytes) else value) for key, value in data.items()}


def from_data(cls: type[Notification], data: dict[str, Any]) -> Notification:
    """The inverse of `as_data`."""
    values = dict(data)
    for attr, kind in cls.FIELDS.values():
        if kind is ClarityType.PARAMETERS and isinstance(values.get(attr), str):
            values[attr] = bytes.fromhex(values[attr].removeprefix("0x"))
    return cls(**values)
