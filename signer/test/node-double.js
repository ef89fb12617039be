// A local double of a Stacks node and the Stacks API, with a mempool that behaves as the
// node's: a nonce already pending is refused (ConflictingNonceInMempool) unless the fee is
// higher (a replacement), a nonce already confirmed is refused (BadNonce), and
// /extended/v1/address/{address}/nonces reports possible_next_nonce and missing nonces.
import { once } from 'node:events';
import { createServer } from 'node:http';

import { deserializeTransaction } from '@stacks/transactions';

import { senderOf } from './simnet.js';

export async function startNode({ interfaceFor = () => null } = {}) {
  const state = {
    confirmed: new Map(), // address -> last executed nonce (or -1)
    mempool: new Map(), // `${address}:${nonce}` -> {txid, fee}
    broadcasts: [],
    requests: [],
    fee: null, // the middle fee estimate, or null: no estimate available
    lagging: false, // the nonces endpoint has not seen the mempool yet
    staleExecuted: null, // the nonces endpoint's last executed nonce, behind the node's
  };
  const answer = (response, status, body) => {
    response.writeHead(status, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const pending = (address) => [...state.mempool.keys()].filter((k) => k.startsWith(`${address}:`)).map((k) => BigInt(k.split(':')[1]));
  const server = createServer(async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    state.requests.push({ method: request.method, url: request.url, headers: request.headers });
    const url = new URL(request.url, 'http://node');
    let match = url.pathname.match(/^\/extended\/v1\/address\/([^/]+)\/nonces$/);
    if (match) {
      const address = match[1];
      const executed = state.staleExecuted ?? state.confirmed.get(address) ?? -1n;
      const inMempool = state.lagging ? [] : pending(address);
      const highest = inMempool.reduce((a, b) => (a > b ? a : b), executed);
      const missing = [];
      for (let n = executed + 1n; n < highest; n += 1n) if (!inMempool.includes(n)) missing.push(Number(n));
      return answer(response, 200, {
        last_executed_tx_nonce: executed >= 0n ? Number(executed) : null,
        last_mempool_tx_nonce: inMempool.length ? Number(highest) : null,
        possible_next_nonce: Number(highest + 1n),
        detected_missing_nonces: missing,
        detected_mempool_nonces: inMempool.map(Number),
      });
    }
    if (url.pathname === '/v2/fees/transaction' && request.method === 'POST') {
      const asked = JSON.parse(body);
      if (!asked.transaction_payload || !asked.estimated_len) return answer(response, 400, { error: 'bad request' });
      if (state.fee === null) return answer(response, 400, { error: 'Estimation could not be performed', reason: 'NoEstimateAvailable' });
      const fee = Number(state.fee);
      return answer(response, 200, {
        estimated_cost: {},
        estimated_cost_scalar: 1,
        cost_scalar_change_by_byte: 0,
        estimations: [{ fee_rate: 1, fee: Math.floor(fee / 2) }, { fee_rate: 2, fee }, { fee_rate: 3, fee: fee * 2 }],
      });
    }
    match = url.pathname.match(/^\/v2\/contracts\/interface\/([^/]+)\/([^/]+)$/);
    if (match) {
      const found = interfaceFor(`${match[1]}.${match[2]}`);
      return found ? answer(response, 200, found) : answer(response, 404, { error: 'no such contract' });
    }
    if (url.pathname === '/v2/transactions' && request.method === 'POST') {
      const tx = deserializeTransaction(body.toString('hex'));
      const address = senderOf(tx);
      const nonce = tx.auth.spendingCondition.nonce;
      const fee = tx.auth.spendingCondition.fee;
      const txid = tx.txid();
      state.broadcasts.push({ tx, address, nonce, fee, txid: `0x${txid}` });
      if (nonce <= (state.confirmed.get(address) ?? -1n)) {
        return answer(response, 400, { error: 'transaction rejected', reason: 'BadNonce', txid });
      }
      const slot = `${address}:${nonce}`;
      const taken = state.mempool.get(slot);
      if (taken && fee <= taken.fee) return answer(response, 400, { error: 'transaction rejected', reason: 'ConflictingNonceInMempool', txid });
      state.mempool.set(slot, { txid: `0x${txid}`, fee });
      return answer(response, 200, txid);
    }
    match = url.pathname.match(/^\/extended\/v1\/tx\/([^/]+)$/);
    if (match) {
      const found = [...state.mempool.values()].find((entry) => entry.txid === match[1]);
      return found ? answer(response, 200, { tx_id: found.txid, tx_status: 'pending' }) : answer(response, 404, { error: 'not found' });
    }
    return answer(response, 404, { error: 'not found' });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    state,
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => server.close(),
    // The node's view after mining: the address's transactions up to `nonce` are confirmed.
    confirm(address, nonce) {
      state.confirmed.set(address, BigInt(nonce));
      for (const key of [...state.mempool.keys()]) if (key.startsWith(`${address}:`) && BigInt(key.split(':')[1]) <= BigInt(nonce)) state.mempool.delete(key);
    },
    // A transaction pending in the mempool, sent by another process holding the same key.
    pend(address, nonce, fee = 1000n) {
      state.mempool.set(`${address}:${nonce}`, { txid: `0x${'ab'.repeat(31)}${String(nonce).padStart(2, '0')}`, fee });
    },
    drop(address, nonce) {
      state.mempool.delete(`${address}:${nonce}`);
    },
  };
}
