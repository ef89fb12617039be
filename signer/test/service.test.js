// The service against a local double of a Stacks node: one broadcast per Idempotency-Key, of
// exactly the transaction asked for, with nonces in order.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';

import { Cl, deserializeTransaction, serializeCV } from '@stacks/transactions';

import { createService } from '../src/server.js';
import { ADDRESS, DAO, PRIVATE_KEY } from './keys.js';

const node = { broadcasts: [], accountRequests: 0, refuse: false };
let nodeServer;
let nodeUrl;
let scratch;

before(async () => {
  nodeServer = createServer(async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    if (request.method === 'GET' && request.url.startsWith(`/v2/accounts/${ADDRESS}`)) {
      node.accountRequests += 1;
      response.writeHead(200, { 'Content-Type': 'application/json' });
      return response.end(JSON.stringify({ balance: '0x0', locked: '0x0', unlock_height: 0, nonce: 41 }));
    }
    if (request.method === 'POST' && request.url === '/v2/transactions') {
      const body = Buffer.concat(chunks);
      const hex = request.headers['content-type'] === 'application/json' ? JSON.parse(body).tx : body.toString('hex');
      const tx = deserializeTransaction(hex);
      node.broadcasts.push(tx);
      if (node.refuse) {
        response.writeHead(400, { 'Content-Type': 'application/json' });
        return response.end(JSON.stringify({ error: 'transaction rejected', reason: 'NotEnoughFunds', txid: tx.txid() }));
      }
      response.writeHead(200, { 'Content-Type': 'application/json' });
      return response.end(JSON.stringify(tx.txid()));
    }
    response.writeHead(404).end();
  });
  nodeServer.listen(0, '127.0.0.1');
  await once(nodeServer, 'listening');
  nodeUrl = `http://127.0.0.1:${nodeServer.address().port}`;
  scratch = mkdtempSync(join(tmpdir(), 'signer-test-'));
});

after(() => {
  nodeServer.close();
  rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  node.broadcasts = [];
  node.accountRequests = 0;
  node.refuse = false;
});

async function start(overrides = {}) {
  const config = {
    privateKey: PRIVATE_KEY,
    network: 'mainnet',
    nodeUrl,
    apiUrl: '',
    apiKey: 'service-key',
    fee: 2500n,
    daoFactory: '',
    agentAccountFactory: '',
    stateFile: '',
    ...overrides,
  };
  const server = createService(config).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${server.address().port}`;
  const call = (key, body, auth = 'Bearer service-key') =>
    fetch(`${base}/contract-calls`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key, Authorization: auth },
      body: JSON.stringify(body),
    });
  return { server, base, call };
}

const vote = (proposalId) => ({ action: 'vote', arguments: { dao_contract: DAO, proposal_id: proposalId, approve: false, voter: ADDRESS } });

test('a call is broadcast exactly once per idempotency key, as the transaction asked for', async () => {
  const { server, call } = await start();
  try {
    const [first, again] = await Promise.all([call('vote:1', vote(7)), call('vote:1', vote(7))]);
    const later = await call('vote:1', vote(7));
    const answers = await Promise.all([first.json(), again.json(), later.json()]);
    assert.equal(node.broadcasts.length, 1);
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    assert.equal(later.status, 200);
    const [tx] = node.broadcasts;
    assert.equal(answers[0].txid, `0x${tx.txid()}`);
    assert.equal(answers[0].status, 'broadcast');
    assert.equal(tx.payload.functionName.content, 'vote-on-action-proposal');
    assert.deepEqual(tx.payload.functionArgs.map((a) => serializeCV(a)), [serializeCV(Cl.uint(7)), serializeCV(Cl.bool(false))]);
    assert.equal(tx.auth.spendingCondition.nonce, 41n);
    assert.equal(tx.auth.spendingCondition.fee, 2500n);
    // Another key is another transaction, with the next nonce (the account is read once).
    const other = await (await call('vote:2', vote(8))).json();
    assert.equal(node.broadcasts.length, 2);
    assert.equal(node.broadcasts[1].auth.spendingCondition.nonce, 42n);
    assert.equal(other.nonce, 42);
    assert.equal(node.accountRequests, 1);
    // The same key with another call is refused, and nothing is sent.
    const reused = await call('vote:1', vote(9));
    assert.equal(reused.status, 422);
    assert.equal(node.broadcasts.length, 2);
  } finally {
    server.close();
  }
});

test('a refusal by the node is answered as rejected and spends no nonce', async () => {
  const { server, call } = await start();
  try {
    node.refuse = true;
    const refused = await (await call('conclude:1', { action: 'conclude', arguments: { dao_contract: DAO, proposal_id: 7 } })).json();
    assert.equal(refused.status, 'rejected');
    assert.match(refused.reason, /NotEnoughFunds/);
    node.refuse = false;
    await call('conclude:2', { action: 'conclude', arguments: { dao_contract: DAO, proposal_id: 8 } });
    assert.deepEqual(node.broadcasts.map((tx) => tx.auth.spendingCondition.nonce), [41n, 41n]);
  } finally {
    server.close();
  }
});

test('keys survive a restart through the state file', async () => {
  const stateFile = join(scratch, 'state.json');
  let service = await start({ stateFile });
  const first = await (await service.call('vote:restart', vote(7))).json();
  service.server.close();
  service = await start({ stateFile });
  try {
    const again = await (await service.call('vote:restart', vote(7))).json();
    assert.deepEqual(again, first);
    assert.equal(node.broadcasts.length, 1);
    const status = await (await fetch(`${service.base}/transactions/${first.txid}`, { headers: { Authorization: 'Bearer service-key' } })).json();
    assert.equal(status.status, 'broadcast');
  } finally {
    service.server.close();
  }
});

test('callers need the key; bad requests are 4xx with a detail', async () => {
  const { server, base, call } = await start();
  try {
    assert.equal((await call('k', vote(1), 'Bearer wrong')).status, 401);
    const noKey = await fetch(`${base}/contract-calls`, { method: 'POST', headers: { Authorization: 'Bearer service-key' }, body: '{}' });
    assert.equal(noKey.status, 400);
    const bad = await call('k2', { action: 'vote', arguments: { dao_contract: DAO } });
    assert.equal(bad.status, 422);
    assert.match((await bad.json()).detail, /arguments\.voter/);
    assert.equal(node.broadcasts.length, 0);
  } finally {
    server.close();
  }
});
