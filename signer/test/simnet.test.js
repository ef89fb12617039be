// Every transaction the signer builds, executed in a simnet of contracts with the aibtc
// interface: a DAO's contract set and two agent accounts deployed, votes through the accounts
// signed by their agents, the conclusion with its action. And what the chain refuses: the owner
// voting directly, a conclusion without its action, a vote outside the window.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';

import { Cl, cvToString, PostConditionMode, serializeCV } from '@stacks/transactions';

import { createSender } from '../src/service.js';
import { AGENTS, OWNERS, PRIVATE_KEY, TESTNET_ADDRESS } from './keys.js';
import { execute, render, simnetNode, startSimnet, TEMPLATES } from './simnet.js';

const SYMBOL = 'faces';
// A DAO's generated set, in deployment order (tasks/aibtc/naming.py: Order).
const DAO_SET = ['aibtc-faktory', 'aibtc-base-dao', 'aibtc-treasury', 'aibtc-action-proposal-voting', 'aibtc-action-send-message'];
// A deployment succeeded when the contract is there to be called.
const deployed = (contractId) => assert.ok(simnet.getContractsInterfaces().has(contractId), `${contractId} was not deployed`);
const ok = (result) => assert.equal(cvToString(result.result), '(ok true)', `expected (ok true), the VM answered ${cvToString(result.result)}`);

let simnet;
let node;
let sender;
let values;
const dao = (name) => `${TESTNET_ADDRESS}.${name.replace('aibtc', SYMBOL)}`;
const voting = () => dao('aibtc-action-proposal-voting');
const action = () => dao('aibtc-action-send-message');
const accounts = [];

async function perform(actionName, args) {
  const answer = await sender.perform(actionName, args);
  assert.equal(answer.status, 'broadcast', answer.reason);
  const executed = node.executed.at(-1);
  assert.equal(executed.txid, answer.txid);
  return { answer, executed };
}

before(async () => {
  simnet = await startSimnet();
  node = simnetNode(simnet);
  const config = { privateKey: PRIVATE_KEY, agentKeys: AGENTS.map((a) => a.key), network: 'testnet', fee: 1000n, maxFee: 100000n };
  sender = createSender(config, node);
  const traits = `'${simnet.deployer}.aibtc-dao-traits`;
  values = {
    dao_contract_token: `.${SYMBOL}-faktory`,
    dao_contract_base: `.${SYMBOL}-base-dao`,
    dao_contract_treasury: `.${SYMBOL}-treasury`,
    dao_trait_action: `${traits}.action`,
    dao_trait_action_proposal_voting: `${traits}.action-proposal-voting`,
  };
});

test("a DAO's contract set deploys in dependency order, each (ok true)", async () => {
  for (const template of DAO_SET) {
    const source = render(readFileSync(`${TEMPLATES}${template}.clar`, 'utf8'), values);
    const { answer, executed } = await perform('deploy_contract', { contract_name: template.replace('aibtc', SYMBOL), source, clarity_version: 3 });
    deployed(answer.contract_id);
    assert.equal(answer.contract_id, dao(template));
  }
  // What the DAO's initialisation does on chain: enable the extension and the action; fund the treasury.
  ok(simnet.callPublicFn(dao('aibtc-base-dao'), 'set-extension', [Cl.principal(voting()), Cl.bool(true)], TESTNET_ADDRESS));
  ok(simnet.callPublicFn(dao('aibtc-base-dao'), 'set-extension', [Cl.principal(action()), Cl.bool(true)], TESTNET_ADDRESS));
  const token = dao('aibtc-faktory');
  ok(simnet.callPublicFn(token, 'transfer', [Cl.uint(50_000_000_000_000_000n), Cl.principal(TESTNET_ADDRESS), Cl.principal(dao('aibtc-treasury')), Cl.none()], TESTNET_ADDRESS));
});

test('agent accounts deploy under their conventional names, bound to owner and agent', async () => {
  const template = readFileSync(`${TEMPLATES}aibtc-agent-account.clar`, 'utf8');
  for (const [i, owner] of OWNERS.entries()) {
    const agent = AGENTS[i].address;
    const source = render(template, { ...values, account_owner: `'${owner.address}`, account_agent: `'${agent}` });
    const { answer, executed } = await perform('deploy_agent_account', { owner_address: owner.address, agent_address: agent, source });
    deployed(answer.contract_id);
    const name = `aibtc-acct-${owner.address.slice(0, 5)}-${owner.address.slice(-5)}-${agent.slice(0, 5)}-${agent.slice(-5)}`;
    assert.equal(answer.contract_id, `${TESTNET_ADDRESS}.${name}`);
    accounts.push(answer.contract_id);
    const created = executed.events.find((e) => e.event === 'print_event');
    assert.match(cvToString(created.data.value), /aibtc-agent-account\/user-agent-account-created/);
    // The owner approves the DAO's voting extension for the account (owner's own transaction).
    ok(simnet.callPublicFn(answer.contract_id, 'approve-contract', [Cl.principal(voting()), Cl.uint(1)], owner.address));
    // Voting power: the account's DAO tokens.
    ok(simnet.callPublicFn(dao('aibtc-faktory'), 'transfer', [Cl.uint(10_000_000_000_000_000n), Cl.principal(TESTNET_ADDRESS), Cl.principal(answer.contract_id), Cl.none()], TESTNET_ADDRESS));
  }
});

test('a proposal through an account, votes by the agents, the conclusion with its action', async () => {
  simnet.mineEmptyBurnBlocks(2);
  const parameters = serializeCV(Cl.stringAscii('hello from the simnet'));
  const created = simnet.callPublicFn(
    accounts[0],
    'create-action-proposal',
    [Cl.principal(voting()), Cl.principal(action()), Cl.bufferFromHex(parameters), Cl.some(Cl.stringAscii('Say hello'))],
    OWNERS[0].address,
  );
  ok(created);
  const proposal = created.events.map((e) => e.data?.value).filter(Boolean).map(cvToString).find((v) => v.includes('aibtc-action-proposal-voting/create-action-proposal'));
  assert.match(proposal, /\(proposalId u1\)/);
  const vote = (i, approve = true) => ({ account_contract: accounts[i], voting_contract: voting(), proposal_id: 1, vote: approve });

  // Too soon: voting opens VOTING_DELAY burn blocks after creation.
  const early = await perform('vote', vote(0));
  assert.equal(cvToString(early.executed.result), '(err u1310)');

  simnet.mineEmptyBurnBlocks(3);
  // The owner's wallet holds no tokens: voting directly aborts for want of voting power.
  const direct = simnet.callPublicFn(voting(), 'vote-on-action-proposal', [Cl.uint(1), Cl.bool(true)], OWNERS[0].address);
  assert.equal(cvToString(direct.result), '(err u1302)');
  for (const i of [0, 1]) {
    const { executed } = await perform('vote', vote(i));
    ok(executed);
    const printed = executed.events.filter((e) => e.event === 'print_event').map((e) => cvToString(e.data.value));
    assert.ok(printed.some((p) => p.includes('aibtc-agent-account/vote-on-action-proposal')));
    assert.ok(printed.some((p) => p.includes('aibtc-action-proposal-voting/vote-on-action-proposal') && p.includes(`(voter ${accounts[i]})`)));
  }

  // Too late: the window has closed.
  simnet.mineEmptyBurnBlocks(3);
  const late = await perform('vote', vote(0, false));
  assert.equal(cvToString(late.executed.result), '(err u1311)');

  // A conclusion without its action is not a call the contract has.
  assert.throws(() => simnet.callPublicFn(voting(), 'conclude-action-proposal', [Cl.uint(1)], TESTNET_ADDRESS), /argument|expect/i);

  simnet.mineEmptyBurnBlocks(3);
  const { answer, executed } = await perform('conclude', { voting_contract: voting(), proposal_id: 1, action_contract: action() });
  ok(executed);
  assert.equal(answer.function_name, 'conclude-action-proposal');
  assert.equal(executed.transaction.postConditionMode, PostConditionMode.Allow);
  const printed = executed.events.filter((e) => e.event === 'print_event').map((e) => cvToString(e.data.value));
  const conclusion = printed.find((p) => p.includes('aibtc-action-proposal-voting/conclude-action-proposal'));
  assert.match(conclusion, /\(passed true\)/);
  assert.match(conclusion, /\(executed true\)/);
  assert.ok(printed.some((p) => p.includes('hello from the simnet')), 'the action ran');
  // Assets left contracts (the bond back to the creator, the reward from the treasury): a
  // Deny-mode transaction without post-conditions would have aborted.
  const moved = executed.events.filter((e) => e.event === 'ft_transfer_event').map((e) => e.data.sender);
  assert.deepEqual(moved.sort(), [dao('aibtc-action-proposal-voting'), dao('aibtc-treasury')].sort());
});

test('a vote for an account whose agent key the service does not hold is refused before signing', async () => {
  const stranger = `${TESTNET_ADDRESS}.aibtc-acct-ST3TC-JX8G-ST1AB-CDEFG`.replace('JX8G', 'JJX8G');
  await assert.rejects(
    sender.perform('vote', { account_contract: stranger, voting_contract: voting(), proposal_id: 1, vote: true }),
    (error) => error.status === 403 && /SIGNER_AGENT_KEYS/.test(error.message),
  );
});

test('a call that does not fit the contract interface is refused before signing', async () => {
  // conclude-action-proposal on an account takes the voting contract first: the ABI check catches it.
  await assert.rejects(
    sender.perform('conclude', { voting_contract: accounts[0], proposal_id: 1, action_contract: action() }),
    (error) => error.status === 422 && /interface/.test(error.message),
  );
});
