"""The print notifications of the aibtc contracts this deployment reads: each one's event name and
payload fields with their Clarity types, as the contracts print them (facts, no I/O).

Every aibtc contract prints `{notification: "<contract>/<event>", payload: {...}}`. The voting
extension prints under its deployed name (`faces2-action-proposal-voting/create-action-proposal`:
the template's `aibtc` replaced by the DAO's symbol), an agent account under its template's name
(`aibtc-agent-account/vote-on-action-proposal`, whatever the account contract is called). So a
notification is recognised by its event suffix and by which contract printed it, never by the
prefix alone (`tasks.aibtc.notifications` reads them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

VOTING_EXTENSION_TEMPLATE = "aibtc-action-proposal-voting"
AGENT_ACCOUNT_TEMPLATE = "aibtc-agent-account"


class ClarityType(StrEnum):
    """The Clarity types of the payload fields this deployment reads."""

    UINT = "uint"
    BOOL = "bool"
    PRINCIPAL = "principal"
    PARAMETERS = "(buff 2048)"
    MEMO = "(optional (string-ascii 1024))"


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
# `user-agent-account-created` is printed once, by the account's deployment: a replay reading an
# account's whole history meets it first.
ACCOUNT_EVENTS_NOT_READ = frozenset(
    {
        "user-agent-account-created",
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
