// The transaction service over HTTP: POST /contract-calls (idempotent per Idempotency-Key),
// GET /transactions/{txid}, GET /health. Contract: docs/transaction-service.openapi.json.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

import { ActionError, contractCallFor } from './actions.js';
import { configFromEnv } from './config.js';
import { accountNonce, addressOf, broadcast, networkFor, sign } from './signer.js';

const MAX_BODY = 64 * 1024;

function send(response, status, body) {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readJson(request) {
  let size = 0;
  const chunks = [];
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ActionError('the request body is larger than 64 KiB', 413);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ActionError('the request body is not JSON', 400);
  }
}

function authorized(request, apiKey) {
  if (!apiKey) return true;
  const given = Buffer.from(request.headers.authorization || '');
  const wanted = Buffer.from(`Bearer ${apiKey}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function contractsFor(action, args, call) {
  // The factories name what they deploy by convention; the answer tells the caller those names.
  const deployer = call.contractId.split('.')[0];
  if (action === 'deploy_dao') {
    const prefix = `${deployer}.${String(args.token_symbol).toLowerCase()}`;
    return { contracts: { dao: `${prefix}-dao`, token: `${prefix}-token`, dex: `${prefix}-dex` } };
  }
  if (action === 'deploy_agent_account') {
    const owner = String(args.owner_address);
    return { contract: `${deployer}.agent-account-${owner.slice(0, 5)}-${owner.slice(-5)}`.toLowerCase() };
  }
  return {};
}

export function createService(config) {
  const address = addressOf(config);
  const network = networkFor(config);
  const settings = { ...config, address };
  // Idempotency-Key -> {fingerprint, answer}; answers by txid for GET /transactions/{txid}.
  const done = new Map();
  const running = new Map();
  if (config.stateFile && existsSync(config.stateFile)) {
    for (const [key, entry] of Object.entries(JSON.parse(readFileSync(config.stateFile, 'utf8')))) done.set(key, entry);
  }
  let nextNonce = null;
  let queue = Promise.resolve();

  const save = () => config.stateFile && writeFileSync(config.stateFile, JSON.stringify(Object.fromEntries(done)));

  // One call at a time: nonces are handed out in order and only spent on an accepted broadcast.
  const perform = (action, args) => {
    const work = queue.then(async () => {
      const call = contractCallFor(action, args, settings);
      if (nextNonce === null) nextNonce = await accountNonce(config, address);
      const transaction = await sign(call, { privateKey: config.privateKey, network, nonce: nextNonce, fee: config.fee });
      const outcome = await broadcast(transaction, network);
      const base = { nonce: Number(nextNonce), fee: Number(config.fee), contract_id: call.contractId, function_name: call.functionName };
      if (outcome.error) return { txid: `0x${transaction.txid()}`, status: 'rejected', reason: `${outcome.error}: ${outcome.reason}`, ...base };
      nextNonce += 1n;
      return { txid: outcome.txid, status: 'broadcast', ...base, ...contractsFor(action, args, call) };
    });
    queue = work.catch(() => undefined);
    return work;
  };

  async function contractCalls(request, response) {
    const key = request.headers['idempotency-key'];
    if (!key || key.length > 200) return send(response, 400, { detail: 'an Idempotency-Key header of 1-200 characters is required' });
    const body = await readJson(request);
    if (typeof body !== 'object' || body === null || typeof body.action !== 'string') {
      throw new ActionError('the body must be {"action": string, "arguments": object}', 400);
    }
    const fingerprint = createHash('sha256').update(JSON.stringify([body.action, body.arguments ?? null])).digest('hex');
    const previous = done.get(key);
    if (previous) {
      if (previous.fingerprint !== fingerprint) throw new ActionError('this Idempotency-Key was used for a different call', 422);
      return send(response, 200, previous.answer);
    }
    if (!running.has(key)) {
      running.set(key, { fingerprint, work: perform(body.action, body.arguments ?? {}) });
    }
    const current = running.get(key);
    if (current.fingerprint !== fingerprint) throw new ActionError('this Idempotency-Key was used for a different call', 422);
    try {
      const answer = await current.work;
      done.set(key, { fingerprint, answer });
      save();
      return send(response, 201, answer);
    } finally {
      running.delete(key);
    }
  }

  async function transactionStatus(response, txid) {
    const entry = [...done.values()].find((e) => e.answer.txid === txid);
    if (!entry) return send(response, 404, { detail: `no transaction ${txid} was sent by this service` });
    if (!config.apiUrl || entry.answer.status !== 'broadcast') return send(response, 200, entry.answer);
    const found = await fetch(`${config.apiUrl.replace(/\/$/, '')}/extended/v1/tx/${txid}`);
    if (found.status === 404) return send(response, 200, entry.answer);
    if (!found.ok) throw new ActionError(`the Stacks API answered ${found.status}`, 502);
    const tx = await found.json();
    const status = tx.tx_status === 'pending' ? 'broadcast' : tx.tx_status;
    return send(response, 200, { ...entry.answer, status, ...(tx.tx_result?.repr && status !== 'success' ? { reason: tx.tx_result.repr } : {}) });
  }

  return createServer(async (request, response) => {
    try {
      const url = new URL(request.url, 'http://service');
      if (request.method === 'GET' && url.pathname === '/health') return send(response, 200, { status: 'ok', address });
      if (!authorized(request, config.apiKey)) return send(response, 401, { detail: 'a valid Bearer key is required' });
      if (request.method === 'POST' && url.pathname === '/contract-calls') return await contractCalls(request, response);
      const match = url.pathname.match(/^\/transactions\/([^/]+)$/);
      if (request.method === 'GET' && match) return await transactionStatus(response, decodeURIComponent(match[1]));
      return send(response, 404, { detail: 'not found' });
    } catch (error) {
      if (error instanceof ActionError) return send(response, error.status, { detail: error.message });
      // The node or the API could not be reached: retryable, nothing was spent.
      return send(response, 502, { detail: `upstream failure: ${error.message}` });
    }
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = configFromEnv();
  createService(config).listen(config.port, config.host, () => {
    console.log(`transaction service for ${addressOf(config)} on http://${config.host}:${config.port}`);
  });
}
