"""The print notifications of the aibtc contracts this deployment reads, with their payload fields (facts, no I/O).

Every aibtc contract prints `{notification: "<contract>/<event>", payload: {...}}`. The voting
extension prints under its deployed name (`faces2-action-proposal-voting/create-action-proposal`:
the template's `aibtc` replaced by the DAO's symbol), an agent account under its template's name
(`aibtc-agent-account/vote-on-action-proposal`, whatever the account contract is called). So a
notification is recognised by its event suffix and by which contract printed it, never by the
prefix alone.

A print reaches us in two shapes, normalised by `normalise` to one: the consensus serialisation
decoded by `tasks.clarity.decode` (Chainhook with `decode_clarity_values: false`, the Stacks
API), or Chainhook's JSON rendering (`decode_clarity_values: true`): numbers for `uint`,
`"0x..."` for buffers, strings for principals, `null` for `none`, the inner value for `some`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from tasks.clarity import ClarityError, decode

# Largest amount a column holds (a signed 64-bit integer). An aibtc token's whole supply in base
# units is 1e9 tokens x 1e8 = 1e17, far below; a bigger value is refused as not understood.
MAX_AMOUNT = 2**63 - 1
VOTING_EXTENSION_TEMPLATE = "aibtc-action-proposal-voting"
AGENT_ACCOUNT_TEMPLATE = "aibtc-agent-account"
METADATA_MARKER = "--- Metadata ---"


class ClarityType(StrEnum):
    """The Clarity types of the payload fields read here."""

    UINT = "uint"
    BOOL = "bool"
    PRINCIPAL = "principal"
    PARAMETERS = "(buff 2048)"
    MEMO = "(optional (string-ascii 1024))"


class NotificationError(ValueError):
    """A print that names a known notification but whose payload does not match its fields."""


@dataclass(frozen=True)
class Notification:
    """Base of every notification: the Clarity field names and types of its payload, in `FIELDS`
    (payload key -> (attribute, type)), and the event suffix it is printed under."""

    EVENT: ClassVar[str]
    FIELDS: ClassVar[dict[str, tuple[str, ClarityType]]]


# --- the voting extension: `<symbol>-action-proposal-voting` ---


@dataclass(frozen=True)
class ProposalCreated(Notification):
    """`create-action-proposal`: a proposal and its burn-height window (voteStart = createdBtc + votingDelay ...)."""

    EVENT = "create-action-proposal"
    FIELDS = {
        "proposalId": ("proposal_id", ClarityType.UINT),
        "action": ("action", ClarityType.PRINCIPAL),
        "parameters": ("parameters", ClarityType.PARAMETERS),
        "bond": ("bond", ClarityType.UINT),
        "caller": ("caller", ClarityType.PRINCIPAL),
        "creator": ("creator", ClarityType.PRINCIPAL),
        "contractCaller": ("contract_caller", ClarityType.PRINCIPAL),
        "txSender": ("tx_sender", ClarityType.PRINCIPAL),
        "liquidTokens": ("liquid_tokens", ClarityType.UINT),
        "memo": ("memo", ClarityType.MEMO),
        "createdBtc": ("created_btc", ClarityType.UINT),
        "createdStx": ("created_stx", ClarityType.UINT),
        "voteStart": ("vote_start", ClarityType.UINT),
        "voteEnd": ("vote_end", ClarityType.UINT),
        "execStart": ("exec_start", ClarityType.UINT),
        "execEnd": ("exec_end", ClarityType.UINT),
        "votingDelay": ("voting_delay", ClarityType.UINT),
        "votingPeriod": ("voting_period", ClarityType.UINT),
        "votingQuorum": ("voting_quorum", ClarityType.UINT),
        "votingThreshold": ("voting_threshold", ClarityType.UINT),
        "votingReward": ("voting_reward", ClarityType.UINT),
    }

    proposal_id: int
    action: str
    parameters: bytes
    bond: int
    caller: str
    creator: str
    contract_caller: str
    tx_sender: str
    liquid_tokens: int
    memo: str | None
    created_btc: int
    created_stx: int
    vote_start: int
    vote_end: int
    exec_start: int
    exec_end: int
    voting_delay: int
    voting_period: int
    voting_quorum: int
    voting_threshold: int
    voting_reward: int


@dataclass(frozen=True)
class VoteCast(Notification):
    """`vote-on-action-proposal`: `voter` is the contract-caller (an agent account when voted through one),
    `amount` its voting power (token balance at the proposal's creation)."""

    EVENT = "vote-on-action-proposal"
    FIELDS = {
        "proposalId": ("proposal_id", ClarityType.UINT),
        "voter": ("voter", ClarityType.PRINCIPAL),
        "vote": ("vote", ClarityType.BOOL),
        "amount": ("amount", ClarityType.UINT),
        "contractCaller": ("contract_caller", ClarityType.PRINCIPAL),
        "txSender": ("tx_sender", ClarityType.PRINCIPAL),
    }

    proposal_id: int
    voter: str
    vote: bool
    amount: int
    contract_caller: str
    tx_sender: str


@dataclass(frozen=True)
class VetoCast(Notification):
    """`veto-action-proposal`: `vetoer` is the contract-caller, `amount` its veto power."""

    EVENT = "veto-action-proposal"
    FIELDS = {
        "proposalId": ("proposal_id", ClarityType.UINT),
        "vetoer": ("vetoer", ClarityType.PRINCIPAL),
        "amount": ("amount", ClarityType.UINT),
        "contractCaller": ("contract_caller", ClarityType.PRINCIPAL),
        "txSender": ("tx_sender", ClarityType.PRINCIPAL),
    }

    proposal_id: int
    vetoer: str
    amount: int
    contract_caller: str
    tx_sender: str


@dataclass(frozen=True)
class ProposalConcluded(Notification):
    """`conclude-action-proposal`: the outcome; `status` is the contract's bit set (1 concluded, 2 met
    quorum, 4 met threshold, 8 passed, 16 executed, 32 expired, 64/128/256 veto bits)."""

    EVENT = "conclude-action-proposal"
    FIELDS = {
        "proposalId": ("proposal_id", ClarityType.UINT),
        "action": ("action", ClarityType.PRINCIPAL),
        "parameters": ("parameters", ClarityType.PARAMETERS),
        "bond": ("bond", ClarityType.UINT),
        "creator": ("creator", ClarityType.PRINCIPAL),
        "liquidTokens": ("liquid_tokens", ClarityType.UINT),
        "memo": ("memo", ClarityType.MEMO),
        "votesFor": ("votes_for", ClarityType.UINT),
        "votesAgainst": ("votes_against", ClarityType.UINT),
        "vetoVotes": ("veto_votes", ClarityType.UINT),
        "metQuorum": ("met_quorum", ClarityType.BOOL),
        "metThreshold": ("met_threshold", ClarityType.BOOL),
        "vetoMetQuorum": ("veto_met_quorum", ClarityType.BOOL),
        "vetoExceedsYes": ("veto_exceeds_yes", ClarityType.BOOL),
        "vetoed": ("vetoed", ClarityType.BOOL),
        "passed": ("passed", ClarityType.BOOL),
        "expired": ("expired", ClarityType.BOOL),
        "executed": ("executed", ClarityType.BOOL),
        "status": ("status", ClarityType.UINT),
        "contractCaller": ("contract_caller", ClarityType.PRINCIPAL),
        "txSender": ("tx_sender", ClarityType.PRINCIPAL),
    }

    proposal_id: int
    action: str
    parameters: bytes
    bond: int
    creator: str
    liquid_tokens: int
    memo: str | None
    votes_for: int
    votes_against: int
    veto_votes: int
    met_quorum: bool
    met_threshold: bool
    veto_met_quorum: bool
    veto_exceeds_yes: bool
    vetoed: bool
    passed: bool
    expired: bool
    executed: bool
    status: int
    contract_caller: str
    tx_sender: str


@dataclass(frozen=True)
class ExecutionFailed(Notification):
    """`conclude-action-proposal` printed a second time, payload `{executionError}`, when a passed
    proposal's action failed to run; the error is the action's `(err uint)` code."""

    EVENT = "conclude-action-proposal"
    FIELDS = {"executionError": ("error", ClarityType.UINT)}

    error: int


# --- an agent account: `<deployer>.aibtc-acct-...`, printing as `aibtc-agent-account/...` ---


@dataclass(frozen=True)
class AccountProposalCreated(Notification):
    EVENT = "create-action-proposal"
    FIELDS = {
        "proposalContract": ("voting_contract", ClarityType.PRINCIPAL),
        "action": ("action", ClarityType.PRINCIPAL),
        "parameters": ("parameters", ClarityType.PARAMETERS),
        "sender": ("sender", ClarityType.PRINCIPAL),
        "caller": ("caller", ClarityType.PRINCIPAL),
    }

    voting_contract: str
    action: str
    parameters: bytes
    sender: str
    caller: str


@dataclass(frozen=True)
class AccountVoted(Notification):
    EVENT = "vote-on-action-proposal"
    FIELDS = {
        "proposalContract": ("voting_contract", ClarityType.PRINCIPAL),
        "proposalId": ("proposal_id", ClarityType.UINT),
        "vote": ("vote", ClarityType.BOOL),
        "sender": ("sender", ClarityType.PRINCIPAL),
        "caller": ("caller", ClarityType.PRINCIPAL),
    }

    voting_contract: str
    proposal_id: int
    vote: bool
    sender: str
    caller: str


@dataclass(frozen=True)
class AccountVetoed(Notification):
    EVENT = "veto-action-proposal"
    FIELDS = {
        "proposalContract": ("voting_contract", ClarityType.PRINCIPAL),
        "proposalId": ("proposal_id", ClarityType.UINT),
        "sender": ("sender", ClarityType.PRINCIPAL),
        "caller": ("caller", ClarityType.PRINCIPAL),
    }

    voting_contract: str
    proposal_id: int
    sender: str
    caller: str


@dataclass(frozen=True)
class AccountConcluded(Notification):
    EVENT = "conclude-action-proposal"
    FIELDS = {
        "proposalContract": ("voting_contract", ClarityType.PRINCIPAL),
        "proposalId": ("proposal_id", ClarityType.UINT),
        "action": ("action", ClarityType.PRINCIPAL),
        "sender": ("sender", ClarityType.PRINCIPAL),
        "caller": ("caller", ClarityType.PRINCIPAL),
    }

    voting_contract: str
    proposal_id: int
    action: str
    sender: str
    caller: str


VOTING_NOTIFICATIONS: tuple[type[Notification], ...] = (
    ProposalCreated,
    VoteCast,
    VetoCast,
    ProposalConcluded,
    ExecutionFailed,
)
ACCOUNT_NOTIFICATIONS: tuple[type[Notification], ...] = (
    AccountProposalCreated,
    AccountVoted,
    AccountVetoed,
    AccountConcluded,
)
# The agent account's other notifications: known, printed by our accounts, not read here.
ACCOUNT_EVENTS_NOT_READ = frozenset(
    {
        "deposit-stx",
        "deposit-ft",
        "withdraw-stx",
        "withdraw-ft",
        "buy-dao-token",
        "sell-dao-token",
        "set-agent-can-manage-assets",
        "set-agent-can-use-proposals",
        "set-agent-can-approve-revoke-contracts",
        "set-agent-can-buy-sell-assets",
        "approve-contract",
        "revoke-contract",
    }
)

DaoEvent = ProposalCreated | VoteCast | VetoCast | ProposalConcluded | ExecutionFailed
AccountEvent = AccountProposalCreated | AccountVoted | AccountVetoed | AccountConcluded


# --- reading a print ---


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


# --- a proposal's parameters ---


@dataclass(frozen=True)
class ProposalText:
    """What a proposal says: its `parameters` read as the message the action receives."""

    text: str
    title: str
    tags: tuple[str, ...]


def proposal_text(parameters: bytes) -> ProposalText:
    """Read `parameters`: the consensus serialisation of a string (`(string-utf8 2043)` for
    `action-send-message`), whose text may end with a `--- Metadata ---` block of `Title: ...`
    and `Tags: a|b|c` lines (as the aibtc frontend and backend write it). A buffer that is not a
    serialised string is shown as hex, untitled."""
    try:
        value = decode(parameters.hex())
    except (ClarityError, UnicodeDecodeError):
        value = None
    if not isinstance(value, str):
        return ProposalText(text="0x" + parameters.hex(), title="", tags=())
    body, marker, metadata = value.partition(METADATA_MARKER)
    title, tags = "", ()
    if marker:
        for line in metadata.splitlines():
            key, colon, rest = line.partition(":")
            if colon and key.strip() == "Title":
                title = rest.strip()
            elif colon and key.strip() == "Tags":
                tags = tuple(tag.strip() for tag in rest.split("|") if tag.strip())
    return ProposalText(text=body.strip() if marker else value, title=title, tags=tags)
