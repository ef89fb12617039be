// The transaction service over HTTP: POST /contract-calls (idempotent per Idempotency-Key),
// GET /transactions/{txid}, GET /health. Contract: docs/transaction-service.openapi.json.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

import { ActionError } from './actions.js';
import { configFromEnv } from './config.js';
import { UpstreamError } from './node.js';
import { createSender } from './service.js';

const MAX_BODY = 256 * 1024;

function send(response, status, body) {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readJson(request) {
  let size = 0;
  const chunks = [];
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ActionError('the request body is larger than 256 KiB', 413);
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

// What the caller sees of a receipt (the signer's bookkeeping stays inside).
function visible(answer) {
  const { sent_at: _sentAt, signer_address: _signer, ...rest } = answer;
  return rest;
}

export function createService(config, node) {
  const sender = createSender(config, node);
  // Idempotency-Key -> {fingerprint, action, args, answer}; answer is the latest transaction
  // for the key (a replacement takes the place of the one it replaced).
  const done = new Map();
  const running = new Map();
  if (config.stateFile && existsSync(config.stateFile)) {
    for (const [key, entry] of Object.entries(JSON.parse(readFileSync(config.stateFile, 'utf8')))) done.set(key, entry);
  }
  const save = () => {
    if (!config.stateFile) return;
    writeFileSync(`${config.stateFile}.tmp`, JSON.stringify(Object.fromEntries(done)));
    renameSync(`${config.stateFile}.tmp`, config.stateFile);
  };

  async function contractCalls(request, response) {
    const key = request.headers['idempotency-key'];
    if (!key || key.length > 200) return send(response, 400, { detail: 'an Idempotency-Key header of 1-200 characters is required' });
    const body = await readJson(request);
    if (typeof body !== 'object' || body === null || typeof body.action !== 'string') {
      throw new ActionError('the body must be {"action": string, "arguments": object}', 400);
    }
    const args = body.arguments ?? {};
    const fingerprint = createHash('sha256').update(JSON.stringify([body.action, args])).digest('hex');
    const previous = done.get(key);
    if (previous) {
      if (previous.fingerprint !== fingerprint) throw new ActionError('this Idempotency-Key was used for a different call', 422);
      return send(response, 200, visible(previous.answer));
    }
    if (!running.has(key)) running.set(key, { fingerprint, work: sender.perform(body.action, args) });
    const current = running.get(key);
    if (current.fingerprint !== fingerprint) throw new ActionError('this Idempotency-Key was used for a different call', 422);
    try {
      const answer = await current.work;
      done.set(key, { fingerprint, action: body.action, args, answer, txids: [answer.txid] });
      save();
      return send(response, 201, visible(answer));
    } finally {
      running.delete(key);
    }
  }

  async function transactionStatus(response, txid) {
    const entry = [...done.values()].find((e) => (e.txids ?? [e.answer.txid]).includes(txid));
    if (!entry) return send(response, 404, { detail: `no transaction ${txid} was sent by this service` });
    let answer = entry.answer;
    if (answer.status !== 'broadcast') return send(response, 200, visible(answer));
    const tx = await sender.node.transaction(answer.txid);
    const status = !tx || tx.tx_status === 'pending' ? 'broadcast' : tx.tx_status;
    const age = (Date.now() - Date.parse(answer.sent_at)) / 1000;
    if (status === 'broadcast' && config.replaceAfterSeconds > 0 && age > config.replaceAfterSeconds) {
      const replacement = await sender.replace(entry.action, entry.args, answer);
      if (replacement) {
        entry.answer = replacement;
        entry.txids = [...(entry.txids ?? [answer.txid]), replacement.txid];
        save();
        return send(response, 200, visible(replacement));
      }
    }
    const reason = tx?.tx_result?.repr && status !== 'success' ? { reason: tx.tx_result.repr } : {};
    answer = { ...answer, status, ...reason, ...(answer.txid !== txid ? { replaced_txid: txid } : {}) };
    return send(response, 200, visible(answer));
  }

  return createServer(async (request, response) => {
    try {
      const url = new URL(request.url, 'http://service');
      if (request.method === 'GET' && url.pathname === '/health') return send(response, 200, { status: 'ok', address: sender.address });
      if (!authorized(request, config.apiKey)) return send(response, 401, { detail: 'a valid Bearer key is required' });
      if (request.method === 'POST' && url.pathname === '/contract-calls') return await contractCalls(request, response);
      const match = url.pathname.match(/^\/transactions\/([^/]+)$/);
      if (request.method === 'GET' && match) return await transactionStatus(response, decodeURIComponent(match[1]));
      return send(response, 404, { detail: 'not found' });
    } catch (error) {
      if (error instanceof ActionError) return send(response, error.status, { detail: error.message });
      // The node or the API could not be reached or answered an error: retryable, nothing was spent.
      return send(response, 502, { detail: `upstream failure: ${error instanceof UpstreamError ? error.message : String(error.message ?? error)}` });
    }
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = configFromEnv();
  const service = createService(config);
  service.listen(config.port, config.host, () => {
    console.log(`transaction service on http://${config.host}:${config.port}`);
  });
}
