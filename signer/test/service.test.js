// The service against a local double of a Stacks node and API: one broadcast per
// Idempotency-Key, a nonce from the node for every transaction (surviving a restart with a
// transaction pending and a dropped transaction), fees estimated under the ceiling, stuck
// transactions replaced, x-api-key sent, interfaces fetched once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Cl, serializeCV } from '@stacks/transactions';

import { agentAccountName } from '../src/contracts.js';
import { createService } from '../src/server.js';
import { AGENTS, OWNERS, PRIVATE_KEY, TESTNET_ADDRESS } from './keys.js';
import { startNode } from './node-double.js';
import { startSimnet } from './simnet.js';

const ACCOUNT = `${TESTNET_ADDRESS}.${agentAccountName(OWNERS[0].address, AGENTS[0].address)}`;
const VOTING = `${TESTNET_ADDRESS}.faces-action-proposal-voting`;
const ACTION = `${TESTNET_ADDRESS}.faces-action-send-message`;
const AGENT = AGENTS[0].address;

let node;
let scratch;

before(async () => {
  // The interfaces the double serves are those of the test contracts, as the simnet reads them.
  const simnet = await startSimnet();
  const interfaces = simnet.getContractsInterfaces();
  // The contracts' deployer, not the first key: boot contracts come first, under an address that
  // differs between a fresh checkout (no deployment plan yet) and a later run.
  const { deployer } = simnet;
  const byTemplate = (name) => interfaces.get(`${deployer}.${name}`);
  node = await startNode({
    interfaceFor: (id) => (id.includes('.aibtc-acct-') ? byTemplate('aibtc-agent-account') : id.endsWith('-action-proposal-voting') ? byTemplate('aibtc-action-proposal-voting') : null),
  });
  scratch = mkdtempSync(join(tmpdir(), 'signer-test-'));
});

after(() => {
  node.close();
  rmSync(scratch, { recursive: true, force: true });
});

function reset() {
  node.state.confirmed.clear();
  node.state.mempool.clear();
  node.state.broadcasts.length = 0;
  node.state.requests.length = 0;
  node.state.fee = null;
  node.state.lagging = false;
  node.state.staleExecuted = null;
}

async function start(overrides = {}) {
  const config = {
    privateKey: PRIVATE_KEY,
    agentKeys: AGENTS.map((a) => a.key),
    network: 'testnet',
    nodeUrl: node.url,
    apiUrl: node.url,
    hiroApiKey: '',
    apiKey: 'service-key',
    fee: 2500n,
    maxFee: 50000n,
    replaceAfterSeconds: 0,
    stateFile: '',
    ...overrides,
  };
  const server = createService(config).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${server.address().port}`;
  const call = async (key, body, auth = 'Bearer service-key') => {
    const response = await fetch(`${base}/contract-calls`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key, Authorization: auth },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const status = async (txid) => (await fetch(`${base}/transactions/${txid}`, { headers: { Authorization: 'Bearer service-key' } })).json();
  return { server, base, call, status, close: () => server.close() };
}

const vote = (proposalId, approve = true) => ({
  action: 'vote',
  arguments: { account_contract: ACCOUNT, voting_contract: VOTING, proposal_id: proposalId, vote: approve },
});

test('a vote goes through the agent account, signed by its agent, once per idempotency key', async () => {
  reset();
  const service = await start();
  try {
    const [first, again] = await Promise.all([service.call('vote:1', vote(7)), service.call('vote:1', vote(7))]);
    const later = await service.call('vote:1', vote(7));
    assert.equal(node.state.broadcasts.length, 1);
    assert.deepEqual(again.body, first.body);
    assert.deepEqual(later.body, first.body);
    assert.equal(later.status, 200);
    const [sent] = node.state.broadcasts;
    assert.equal(first.body.txid, sent.txid);
    assert.equal(sent.address, AGENT, 'signed with the agent key');
    assert.equal(sent.tx.payload.functionName.content, 'vote-on-action-proposal');
    assert.deepEqual(
      sent.tx.payload.functionArgs.map((a) => serializeCV(a)),
      [serializeCV(Cl.contractPrincipal(...VOTING.split('.'))), serializeCV(Cl.uint(7)), serializeCV(Cl.bool(true))],
    );
    assert.equal(first.body.contract_id, ACCOUNT);
    // The same key with another call is refused, and nothing is sent.
    assert.equal((await service.call('vote:1', vote(9))).status, 422);
    assert.equal(node.state.broadcasts.length, 1);
  } finally {
    service.close();
  }
});

test('each transaction takes its nonce from the node; a restart with one pending reuses none', async () => {
  reset();
  node.confirm(AGENT, 40);
  let service = await start();
  const first = await service.call('vote:a', vote(1));
  assert.equal(first.body.nonce, 41);
  service.close();
  // Restarted while 41 is pending: possible_next_nonce counts the mempool.
  service = await start();
  try {
    const second = await service.call('vote:b', vote(2));
    assert.equal(second.body.status, 'broadcast');
    assert.equal(second.body.nonce, 42);
    // Another process used the key meanwhile (43 pending): the node says so, and 44 is taken.
    node.pend(AGENT, 43);
    const third = await service.call('vote:c', vote(3));
    assert.equal(third.body.nonce, 44);
    assert.ok(node.state.broadcasts.every((b) => b.address === AGENT));
  } finally {
    service.close();
  }
});

test('a dropped transaction leaves a gap that the next transaction fills', async () => {
  reset();
  node.confirm(AGENT, 40);
  const service = await start();
  try {
    await service.call('vote:d1', vote(1)); // 41
    await service.call('vote:d2', vote(2)); // 42
    node.drop(AGENT, 41); // the node dropped it: 42 can never run until 41 exists
    const refill = await service.call('vote:d3', vote(3));
    assert.equal(refill.body.nonce, 41);
    const next = await service.call('vote:d4', vote(4));
    assert.equal(next.body.nonce, 43);
    assert.ok([refill, next].every((r) => r.body.status === 'broadcast'));
  } finally {
    service.close();
  }
});

test('a nonce the node refuses is re-synced, not repeated', async () => {
  reset();
  node.confirm(AGENT, 40);
  const service = await start();
  try {
    await service.call('vote:r1', vote(1)); // 41 pending
    node.state.lagging = true; // the API has not indexed it: it still says 41
    const second = await service.call('vote:r2', vote(2));
    assert.equal(second.body.status, 'broadcast');
    assert.equal(second.body.nonce, 42);
    assert.deepEqual(node.state.broadcasts.map((b) => Number(b.nonce)), [41, 41, 42]);
    node.state.lagging = false;
    node.confirm(AGENT, 42);
    node.state.staleExecuted = 40n; // the API is behind the node: it offers 41, the node says BadNonce
    node.state.broadcasts.length = 0;
    const third = await service.call('vote:r3', vote(3));
    assert.equal(third.body.status, 'broadcast');
    assert.equal(third.body.nonce, 43);
    assert.deepEqual(node.state.broadcasts.map((b) => Number(b.nonce)), [41, 42, 43]);
  } finally {
    service.close();
  }
});

test('the fee is the node estimate, never above the ceiling; the configured fee when none', async () => {
  reset();
  const service = await start();
  try {
    assert.equal((await service.call('f1', vote(1))).body.fee, 2500);
    node.state.fee = 4000n;
    assert.equal((await service.call('f2', vote(2))).body.fee, 4000);
    node.state.fee = 9_000_000n;
    assert.equal((await service.call('f3', vote(3))).body.fee, 50000);
  } finally {
    service.close();
  }
});

test('a transaction stuck past the set time is replaced: same nonce, higher fee, new txid reported', async () => {
  reset();
  const stateFile = join(scratch, 'replace.json');
  let service = await start({ replaceAfterSeconds: 1, stateFile });
  const sent = (await service.call('c1', { action: 'conclude', arguments: { voting_contract: VOTING, proposal_id: 3, action_contract: ACTION } })).body;
  assert.equal((await service.status(sent.txid)).status, 'broadcast', 'not yet past the set time');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  service.close();
  service = await start({ replaceAfterSeconds: 1, stateFile }); // it survives a restart
  try {
    const replaced = await service.status(sent.txid);
    assert.notEqual(replaced.txid, sent.txid);
    assert.equal(replaced.replaced_txid, sent.txid);
    assert.equal(replaced.nonce, sent.nonce);
    assert.ok(replaced.fee > sent.fee);
    assert.equal(node.state.broadcasts.at(-1).txid, replaced.txid);
    // The idempotency key now answers with the replacement, and either txid finds it.
    assert.equal((await service.call('c1', { action: 'conclude', arguments: { voting_contract: VOTING, proposal_id: 3, action_contract: ACTION } })).body.txid, replaced.txid);
  } finally {
    service.close();
  }
});

test('x-api-key goes with every request to the node; each interface is fetched once', async () => {
  reset();
  const service = await start({ hiroApiKey: 'hiro-key' });
  try {
    await service.call('k1', vote(1));
    await service.call('k2', vote(2));
    assert.ok(node.state.requests.length > 0);
    assert.ok(node.state.requests.every((r) => r.headers['x-api-key'] === 'hiro-key'));
    assert.equal(node.state.requests.filter((r) => r.url.startsWith('/v2/contracts/interface/')).length, 1);
  } finally {
    service.close();
  }
});

test('callers need the key; bad requests are 4xx with a detail that names the fix', async () => {
  reset();
  const service = await start();
  try {
    assert.equal((await service.call('k', vote(1), 'Bearer wrong')).status, 401);
    const noKey = await fetch(`${service.base}/contract-calls`, { method: 'POST', headers: { Authorization: 'Bearer service-key' }, body: '{}' });
    assert.equal(noKey.status, 400);
    const bad = await service.call('k2', { action: 'vote', arguments: { account_contract: ACCOUNT } });
    assert.equal(bad.status, 422);
    assert.match(bad.body.detail, /arguments\.voting_contract/);
    const stranger = await service.call('k3', { action: 'vote', arguments: { ...vote(1).arguments, account_contract: `${TESTNET_ADDRESS}.${agentAccountName(OWNERS[0].address, OWNERS[1].address)}` } });
    assert.equal(stranger.status, 403);
    assert.match(stranger.body.detail, /SIGNER_AGENT_KEYS/);
    const old = await service.call('k4', { action: 'conclude', arguments: { dao_contract: VOTING, proposal_id: 1 } });
    assert.equal(old.status, 422, 'a conclusion without its action is refused');
    assert.equal(node.state.broadcasts.length, 0);
  } finally {
    service.close();
  }
});
