"""The aibtc naming facts against names seen on chain and in the aibtc tooling's examples."""

import pytest

from tasks.aibtc import naming

pytestmark = pytest.mark.database_independent

# Clarinet's devnet deployer and wallet_1: the owner and agent of the agent-tools example account.
OWNER = "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM"
AGENT = "ST35K818S3K2GSNEBC3M35GA3W8Q7X72KF4RVM3QA"


def test_agent_account_name_is_built_from_both_addresses():
    assert naming.agent_account_name(OWNER, AGENT) == "aibtc-acct-ST1PQ-PGZGM-ST35K-VM3QA"


def test_agent_account_name_refuses_a_contract_principal():
    with pytest.raises(naming.NamingError, match="owner"):
        naming.agent_account_name(f"{OWNER}.aibtc-acct-x", AGENT)


def test_dao_contracts_take_the_lower_case_symbol_in_deployment_order():
    names = naming.dao_contract_names("FACES2")
    assert names[naming.Order.ACTION_PROPOSAL_VOTING] == "faces2-action-proposal-voting"
    assert names[naming.Order.BASE_DAO] == "faces2-base-dao"
    assert names[naming.Order.TOKEN] == "faces2-faktory"
    assert names[naming.Order.DEX] == "faces2-faktory-dex"
    # Only the first "aibtc" of a template is replaced, as the generator's String.replace does.
    assert names[naming.Order.POOL] == "xyk-pool-sbtc-faces2-v-1-1"
    assert names[naming.Order.TRADING_FAKTORY_SBTC] == "faces2-acct-swap-faktory-aibtc-sbtc"
    assert list(names) == sorted(names)
    assert names[naming.Order.INITIALIZE_DAO] == "faces2-base-initialize-dao"


def test_a_symbol_that_makes_no_contract_name_is_refused():
    with pytest.raises(naming.NamingError, match="valid contract name"):
        naming.voting_contract_name("9 bad")


def test_contract_principals_parse_and_agent_accounts_are_recognised():
    voter = "ST2Q77H5HHT79JK4932JCFDX4VY6XA3Y1F61A25CD.aibtc-acct-ST357-85TEQ-ST1GZ-CH3NF"
    parsed = naming.ContractId.parse(voter)
    assert (parsed.address, parsed.name) == (
        "ST2Q77H5HHT79JK4932JCFDX4VY6XA3Y1F61A25CD",
        "aibtc-acct-ST357-85TEQ-ST1GZ-CH3NF",
    )
    assert str(parsed) == voter
    assert naming.is_agent_account(voter)
    assert not naming.is_agent_account("ST2Q77H5HHT79JK4932JCFDX4VY6XA3Y1F61A25CD.faces2-action-proposal-voting")
    assert len(voter) <= naming.MAX_PRINCIPAL_LENGTH
    with pytest.raises(naming.NamingError):
        naming.ContractId.parse("ST2Q77H5HHT79JK4932JCFDX4VY6XA3Y1F61A25CD")
