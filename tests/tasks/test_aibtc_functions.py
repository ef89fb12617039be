"""`tasks.aibtc.functions` and `tasks.aibtc.templates`: the calls we send and the templates we
render, against the contracts in signer/clarity (the ones the signer's simnet runs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasks.aibtc import functions, naming
from tasks.aibtc.templates import Replacements, render
from tests.tasks.conftest import ACCOUNT, ACTION, AGENT, CONTRACTS_DIR, OWNER, VOTING, WALLET

pytestmark = pytest.mark.database_independent


def public_functions(template: str) -> dict[str, list[str]]:
    """The argument names of each `(define-public (name (arg type) ...)` of a contract."""
    source = (Path(CONTRACTS_DIR) / f"{template}.clar").read_text()
    found = {}
    for match in re.finditer(r"\(define-public \(([a-z-]+)", source):
        depth, args, i = 1, [], match.end()
        while depth:  # read to the signature's closing parenthesis
            char = source[i]
            if char == "(":
                depth += 1
                if depth == 2:
                    args.append(re.match(r"\(([a-zA-Z]+)", source[i:])[1])  # type: ignore[index]
            elif char == ")":
                depth -= 1
            i += 1
        found[match[1]] = args
    return found


@pytest.mark.parametrize(
    "function",
    [
        functions.ACCOUNT_CREATE_PROPOSAL,
        functions.ACCOUNT_VOTE,
        functions.ACCOUNT_VETO,
        functions.ACCOUNT_CONCLUDE,
        functions.VOTING_CONCLUDE,
        functions.VOTING_VOTE,
    ],
    ids=lambda f: f"{f.template}.{f.name}",
)
def test_each_function_is_the_contracts_own(function: functions.Function) -> None:
    declared = public_functions(function.template)
    assert declared[function.name] == [name for name, _ in function.args]


def test_the_vote_goes_through_an_agent_account_and_the_conclusion_carries_its_action() -> None:
    assert functions.vote_arguments(ACCOUNT, VOTING, 7, True) == {
        "account_contract": ACCOUNT,
        "voting_contract": VOTING,
        "proposal_id": 7,
        "vote": True,
    }
    with pytest.raises(naming.NamingError, match="not an agent account"):
        functions.vote_arguments(WALLET, VOTING, 7, True)
    assert functions.conclude_arguments(VOTING, 7, ACTION)["action_contract"] == ACTION
    with pytest.raises(naming.NamingError):
        functions.conclude_arguments(VOTING, 7, "")
    assert functions.VOTING_CONCLUDE.mode is functions.PostConditionMode.ALLOW
    assert functions.ACCOUNT_VOTE.mode is functions.PostConditionMode.DENY


def test_an_agent_account_template_is_bound_to_its_owner_and_agent() -> None:
    template = (Path(CONTRACTS_DIR) / "aibtc-agent-account.clar").read_text()
    rendered = render(template, Replacements("face", "SP000000000000000000002Q6VF78", OWNER, AGENT))
    assert f"(define-constant ACCOUNT_OWNER '{OWNER})" in rendered
    assert f"(define-constant ACCOUNT_AGENT '{AGENT})" in rendered
    assert "(use-trait action-trait 'SP000000000000000000002Q6VF78.aibtc-dao-traits.action)" in rendered


def test_a_dao_template_refers_to_the_daos_own_contracts() -> None:
    template = (Path(CONTRACTS_DIR) / "aibtc-action-proposal-voting.clar").read_text()
    rendered = render(template, Replacements("face", "SP000000000000000000002Q6VF78"))
    code = [line for line in rendered.splitlines() if not line.lstrip().startswith(";;")]
    assert "(define-constant VOTING_TREASURY .face-treasury)" in code
    assert any("(contract-call? .face-faktory transfer VOTING_BOND" in line for line in code)
    assert not any(".aibtc-faktory" in line or ".aibtc-treasury" in line for line in code)
