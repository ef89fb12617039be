"""The public functions of the aibtc contracts this deployment calls, with their argument
Clarity types and what each moves (facts, no I/O).

Read from `aibtc-agent-account.clar` and `aibtc-action-proposal-voting.clar` (aibtcdev-daos).
The transaction service builds the calls (`signer/src/contracts.js` and `signer/src/actions.js`
mirror these facts); the jobs send it the arguments built here, named as its published
contract (`docs/transaction-service.openapi.json`) names them. The names here are function
names (`create-action-proposal` is what a transaction calls); what the contracts print is
named `<contract>/<event>` (`<symbol>-action-proposal-voting/create-action-proposal`), in
`tasks.aibtc.payloads`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from tasks.aibtc import naming


class PostConditionMode(Enum):
    """How a transaction treats asset movements its post-conditions do not cover."""

    DENY = "deny"  # any uncovered movement aborts the transaction
    ALLOW = "allow"  # uncovered movements are allowed


@dataclass(frozen=True)
class Function:
    """One public function: its contract (by template), name, arguments (name, Clarity type)
    and the post-condition mode our transactions calling it use (with why)."""

    template: str
    name: str
    args: tuple[tuple[str, str], ...]
    mode: PostConditionMode
    why: str


ACCOUNT = "aibtc-agent-account"
VOTING = "aibtc-action-proposal-voting"

ACCOUNT_CREATE_PROPOSAL = Function(
    ACCOUNT,
    "create-action-proposal",
    (
        ("votingContract", "<action-proposal-voting>"),
        ("action", "<action>"),
        ("parameters", "(buff 2048)"),
        ("memo", "(optional (string-ascii 1024))"),
    ),
    PostConditionMode.DENY,
    "moves the bond from the account to the extension: the creator's own post-condition covers it",
)
ACCOUNT_VOTE = Function(
    ACCOUNT,
    "vote-on-action-proposal",
    (("votingContract", "<action-proposal-voting>"), ("proposalId", "uint"), ("vote", "bool")),
    PostConditionMode.DENY,
    "moves no asset; the account's token balance at the proposal's creation is the voting power",
)
ACCOUNT_VETO = Function(
    ACCOUNT,
    "veto-action-proposal",
    (("votingContract", "<action-proposal-voting>"), ("proposalId", "uint")),
    PostConditionMode.DENY,
    "moves no asset",
)
ACCOUNT_CONCLUDE = Function(
    ACCOUNT,
    "conclude-action-proposal",
    (("votingContract", "<action-proposal-voting>"), ("proposalId", "uint"), ("action", "<action>")),
    PostConditionMode.ALLOW,
    "as the extension's conclude-action-proposal, through the account",
)
VOTING_CONCLUDE = Function(
    VOTING,
    "conclude-action-proposal",
    (("proposalId", "uint"), ("action", "<action>")),
    PostConditionMode.ALLOW,
    "moves the bond from the extension (to the creator if passed, else to the treasury) and, when the "
    "action runs, the reward from the treasury to the creator; the chain decides which, so no exact "
    "post-conditions can be written when signing, and none of the assets are the signer's",
)
VOTING_VOTE = Function(
    VOTING,
    "vote-on-action-proposal",
    (("proposalId", "uint"), ("vote", "bool")),
    PostConditionMode.DENY,
    "moves no asset; the caller's token balance at the proposal's creation is its voting power",
)


def vote_arguments(account: str, voting: str, proposal_id: int, vote: bool) -> dict[str, Any]:
    """The service's `vote` action: ACCOUNT_VOTE on `account`, signed by the account's agent."""
    if not naming.is_agent_account(account):
        raise naming.NamingError(f"{account!r} is not an agent account (aibtc-acct-...): votes go through one")
    naming.ContractId.parse(voting)
    return {"account_contract": account, "voting_contract": voting, "proposal_id": proposal_id, "vote": vote}


def conclude_arguments(voting: str, proposal_id: int, action: str) -> dict[str, Any]:
    """The service's `conclude` action: VOTING_CONCLUDE sent directly to the extension (anyone
    may conclude, so no agent key or token balance is needed)."""
    naming.ContractId.parse(voting)
    naming.ContractId.parse(action)
    return {"voting_contract": voting, "proposal_id": proposal_id, "action_contract": action}
