// A Stacks node and Stacks API answered by a simnet of clarity/'s contracts, for the Python
// suite's end-to-end tests (tests/tasks/simnet_chain.py starts it). The signer (src/server.js,
// or createSender through POST /control/perform) broadcasts to it and each transaction is
// executed in the VM at once, one block per transaction; the job queue reads the chain's tip,
// blocks, transactions and print events from it as from Hiro's API; and GET /control/deliveries
// gives every mined block as a Hiro Chainhook delivery, in either decode mode. So the reader
// (the job queue) and the writer (the signer) meet the same contracts and the same print values.
//
// At start it deploys a DAO's contract set and two agent accounts (the owners approve the
// voting extension, the accounts hold the DAO's tokens), then writes {url, contracts, accounts}
// as JSON to the file SIMNET_CHAIN_READY_FILE names (or prints it).
import { once } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { initSimnet } from '@stacks/clarinet-sdk';
import {
  addressToString,
  Cl,
  cvToHex,
  cvToString,
  deserializeTransaction,
  makeContractCall,
  PayloadType,
  PostConditionMode,
  privateKeyToAddress,
  serializeCV,
} from '@stacks/transactions';

import { createSender } from '../src/service.js';
import { AGENTS, OWNERS, PRIVATE_KEY, TESTNET_ADDRESS } from '../test/keys.js';
import { execute, MANIFEST, render, senderOf, TEMPLATES } from '../test/simnet.js';
import { blockHash, decodedJson, deliveries, stringify } from './chainhook.js';

const SYMBOL = 'faces';
const DAO_SET = ['aibtc-faktory', 'aibtc-base-dao', 'aibtc-treasury', 'aibtc-action-proposal-voting', 'aibtc-action-send-message'];
const GENESIS_TIME = 1_764_000_000;
const SECONDS_PER_BURN_BLOCK = 1; // what the burn-blocks endpoint reports: the job queue's waits stay short

// A copy of the Clarinet project for this process: the simnet writes its deployment plan into the
// project, and the suite's legs (SQLite, PostgreSQL) may start chains at the same moment.
const project = mkdtempSync(join(tmpdir(), 'simnet-chain-'));
cpSync(dirname(MANIFEST), project, { recursive: true, filter: (path) => !/[/\\](deployments|\.cache)$/.test(path) });
const removeProject = () => rmSync(project, { recursive: true, force: true });
process.on('exit', removeProject);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
const simnet = await initSimnet(join(project, 'Clarinet.toml'));
const dao = (template) => `${TESTNET_ADDRESS}.${template.replace('aibtc', SYMBOL)}`;
const contracts = { dao: dao('aibtc-base-dao'), token: dao('aibtc-faktory'), voting: dao('aibtc-action-proposal-voting'), action: dao('aibtc-action-send-message'), treasury: dao('aibtc-treasury') };
const blocks = []; // {height, burnHeight, time, txs: [record]}
const byTxid = new Map();
const nonces = new Map();

const burnTime = (height) => GENESIS_TIME + height * SECONDS_PER_BURN_BLOCK;

// Execute a signed transaction as the node would mine it: in a block of its own.
function submit(transaction) {
  const tx = deserializeTransaction(transaction.serialize());
  const sender = senderOf(tx);
  const nonce = tx.auth.spendingCondition.nonce;
  const expected = nonces.get(sender) ?? 0n;
  const txid = `0x${transaction.txid()}`;
  if (nonce !== expected) return { error: 'transaction rejected', reason: nonce < expected ? 'BadNonce' : 'FutureNonce', txid };
  const burnHeight = simnet.burnBlockHeight; // what the transaction sees as burn-block-height
  const outcome = execute(simnet, transaction);
  const height = simnet.stacksBlockHeight; // the block the call mined (its stacks-block-height)
  nonces.set(sender, expected + 1n);
  const deploy = tx.payload.payloadType === PayloadType.SmartContract || tx.payload.payloadType === PayloadType.VersionedSmartContract;
  const total = outcome.costs?.total ?? {};
  const record = {
    txid,
    rawTx: `0x${transaction.serialize()}`,
    sender,
    nonce: Number(nonce),
    fee: Number(tx.auth.spendingCondition.fee),
    deploy,
    contractId: deploy ? `${sender}.${tx.payload.contractName.content}` : `${addressToString(tx.payload.contractAddress)}.${tx.payload.contractName.content}`,
    code: deploy ? tx.payload.codeBody.content : undefined,
    functionName: deploy ? undefined : tx.payload.functionName.content,
    args: deploy ? [] : tx.payload.functionArgs,
    result: outcome.result,
    success: outcome.result.type !== 'err',
    events: outcome.events,
    postConditionMode: tx.postConditionMode,
    cost: {
      read_count: total.readCount ?? 0,
      read_length: total.readLength ?? 0,
      runtime: total.runtime ?? 0,
      write_count: total.writeCount ?? 0,
      write_length: total.writeLength ?? 0,
    },
  };
  const block = { height, burnHeight, time: burnTime(burnHeight), txs: [record] };
  blocks.push(block);
  byTxid.set(txid, { record, block });
  return { txid, record };
}

// The node interface createSender takes (src/node.js), answered by this chain.
const node = {
  async nextNonce(address) {
    return nonces.get(address) ?? 0n;
  },
  async estimateFee() {
    return null;
  },
  async contractInterface(contractId) {
    const found = simnet.getContractsInterfaces().get(contractId);
    if (!found) throw new Error(`no contract ${contractId} in the simnet`);
    return found;
  },
  async broadcast(transaction) {
    const { error, reason, txid } = submit(transaction);
    return error ? { error, reason } : { txid };
  },
  async transaction(txid) {
    return byTxid.has(txid) ? apiTx(byTxid.get(txid), true) : null;
  },
};
const sender = createSender({ privateKey: PRIVATE_KEY, agentKeys: AGENTS.map((a) => a.key), network: 'testnet', fee: 1000n, maxFee: 100000n }, node);

// A contract call signed by one of the test keys (the owners, the deployer), executed at once.
async function call(key, contractId, functionName, functionArgs) {
  const [contractAddress, contractName] = contractId.split('.');
  const address = privateKeyToAddress(key, 'testnet');
  const transaction = await makeContractCall({
    senderKey: key,
    network: 'testnet',
    nonce: nonces.get(address) ?? 0n,
    fee: 1000n,
    contractAddress,
    contractName,
    functionName,
    functionArgs,
    postConditionMode: PostConditionMode.Allow,
  });
  const { record, reason } = submit(transaction);
  if (!record) throw new Error(`${functionName} was refused: ${reason}`);
  if (!record.success) throw new Error(`${contractId}.${functionName} answered ${cvToString(record.result)}`);
  return record;
}

// --- the Stacks API's shapes (Transaction, its events, a block) ---

function apiEvent(event, index, txid) {
  const { data } = event;
  if (event.event === 'print_event') {
    const hex = data.raw_value.startsWith('0x') ? data.raw_value : `0x${data.raw_value}`;
    const log = { contract_id: data.contract_identifier, topic: data.topic, value: { hex, repr: cvToString(data.value) } };
    return { event_index: index, event_type: 'smart_contract_log', tx_id: txid, contract_log: log };
  }
  if (event.event.startsWith('ft_')) {
    const type = event.event.split('_')[1];
    const asset = { asset_event_type: type, asset_id: data.asset_identifier, sender: data.sender ?? '', recipient: data.recipient ?? '', amount: String(data.amount) };
    return { event_index: index, event_type: 'fungible_token_asset', tx_id: txid, asset };
  }
  return null;
}

function apiEvents(record) {
  return record.events.map((event, i) => apiEvent(event, i, record.txid)).filter(Boolean);
}

function apiTx({ record, block }, withEvents) {
  const events = apiEvents(record);
  const base = {
    tx_id: record.txid,
    nonce: record.nonce,
    fee_rate: String(record.fee),
    sender_address: record.sender,
    sponsored: false,
    post_condition_mode: record.postConditionMode === PostConditionMode.Allow ? 'allow' : 'deny',
    post_conditions: [],
    anchor_mode: 'any',
    is_unanchored: false,
    block_hash: blockHash(block.height),
    block_height: block.height,
    block_time: block.time,
    burn_block_height: block.burnHeight,
    burn_block_time: block.time,
    canonical: true,
    tx_index: 0,
    tx_status: record.success ? 'success' : 'abort_by_response',
    tx_result: { hex: cvToHex(record.result), repr: cvToString(record.result) },
    event_count: events.length,
    events: withEvents ? events : [],
  };
  if (record.deploy) return { ...base, tx_type: 'smart_contract', smart_contract: { clarity_version: 3, contract_id: record.contractId, source_code: record.code } };
  const functionArgs = record.args.map((arg) => ({ hex: cvToHex(arg), repr: cvToString(arg), name: '', type: '' }));
  return { ...base, tx_type: 'contract_call', contract_call: { contract_id: record.contractId, function_name: record.functionName, function_args: functionArgs } };
}

function apiBlock(block) {
  return {
    canonical: true,
    height: block.height,
    hash: blockHash(block.height),
    parent_block_hash: blockHash(block.height - 1),
    block_time: block.time,
    burn_block_height: block.burnHeight,
    burn_block_time: block.time,
    tx_count: block.txs.length,
  };
}

const page = (items, url) => {
  const limit = Number(url.searchParams.get('limit') ?? 20);
  const offset = Number(url.searchParams.get('offset') ?? 0);
  return { limit, offset, total: items.length, results: items.slice(offset, offset + limit) };
};

// --- the scenario's set-up: the DAO, its agent accounts, their tokens ---

const accounts = [];
async function setUp() {
  const traits = `'${simnet.deployer}.aibtc-dao-traits`;
  const values = {
    dao_contract_token: `.${SYMBOL}-faktory`,
    dao_contract_base: `.${SYMBOL}-base-dao`,
    dao_contract_treasury: `.${SYMBOL}-treasury`,
    dao_trait_action: `${traits}.action`,
    dao_trait_action_proposal_voting: `${traits}.action-proposal-voting`,
  };
  const deployed = async (action, args) => {
    const answer = await sender.perform(action, args);
    if (answer.status !== 'broadcast' || !byTxid.get(answer.txid).record.success) throw new Error(`${action} failed: ${answer.reason ?? ''}`);
    return answer.contract_id;
  };
  for (const template of DAO_SET) {
    const source = render(readFileSync(`${TEMPLATES}${template}.clar`, 'utf8'), values);
    await deployed('deploy_contract', { contract_name: template.replace('aibtc', SYMBOL), source, clarity_version: 3 });
  }
  await call(PRIVATE_KEY, contracts.dao, 'set-extension', [Cl.principal(contracts.voting), Cl.bool(true)]);
  await call(PRIVATE_KEY, contracts.dao, 'set-extension', [Cl.principal(contracts.action), Cl.bool(true)]);
  await call(PRIVATE_KEY, contracts.token, 'transfer', [Cl.uint(50_000_000_000_000_000n), Cl.principal(TESTNET_ADDRESS), Cl.principal(contracts.treasury), Cl.none()]);
  const template = readFileSync(`${TEMPLATES}aibtc-agent-account.clar`, 'utf8');
  // Different balances, so each vote's voting power says whose it is.
  const balances = [10_000_000_000_000_000n, 6_000_000_000_000_000n];
  for (const [i, owner] of OWNERS.entries()) {
    const agent = AGENTS[i].address;
    const source = render(template, { ...values, account_owner: `'${owner.address}`, account_agent: `'${agent}` });
    const contract = await deployed('deploy_agent_account', { owner_address: owner.address, agent_address: agent, source });
    await call(owner.key, contract, 'approve-contract', [Cl.principal(contracts.voting), Cl.uint(1)]);
    await call(PRIVATE_KEY, contracts.token, 'transfer', [Cl.uint(balances[i]), Cl.principal(TESTNET_ADDRESS), Cl.principal(contract), Cl.none()]);
    accounts.push({ owner: owner.address, agent, contract, balance: String(balances[i]) });
  }
  // A proposal must come after the extension's deployment burn block (its rate limit).
  simnet.mineEmptyBurnBlocks(2);
}

// --- control: what the test does to the chain ---

async function control(method, path, body, url) {
  if (method === 'POST' && path === '/control/burn-blocks') {
    simnet.mineEmptyBurnBlocks(Number(body.count ?? 1));
    return { burn_height: simnet.burnBlockHeight };
  }
  if (method === 'POST' && path === '/control/propose') {
    // The first account's owner proposes through the account: the action, its parameters (the
    // message), a memo; the account prints, then the voting extension.
    const parameters = serializeCV(Cl.stringAscii(body.message));
    const args = [Cl.principal(contracts.voting), Cl.principal(contracts.action), Cl.bufferFromHex(parameters), body.memo ? Cl.some(Cl.stringAscii(body.memo)) : Cl.none()];
    const record = await call(OWNERS[0].key, accounts[0].contract, 'create-action-proposal', args);
    const printed = record.events.find((e) => e.event === 'print_event' && e.data.contract_identifier === contracts.voting);
    return { txid: record.txid, result: cvToString(record.result), proposal_id: decodedJson(printed.data.value).payload.proposalId };
  }
  if (method === 'POST' && path === '/control/perform') {
    // The signer's own code (src/service.js), for a test that needs no signer process.
    return sender.perform(body.action, body.arguments);
  }
  if (method === 'GET' && path === '/control/transactions') {
    // What the VM answered to every transaction: its result, as the node would report it.
    return blocks.flatMap((block) =>
      block.txs.map((r) => ({
        txid: r.txid,
        sender: r.sender,
        contract_id: r.contractId,
        function_name: r.functionName ?? null,
        result: cvToString(r.result),
        prints: r.events.filter((e) => e.event === 'print_event').map((e) => ({ contract_id: e.data.contract_identifier, repr: cvToString(e.data.value) })),
        height: block.height,
        burn_height: block.burnHeight,
      })),
    );
  }
  if (method === 'GET' && path === '/control/deliveries') {
    const from = Number(url.searchParams.get('from') ?? 0);
    const decode = url.searchParams.get('decode') === 'true';
    const predicate = { contract_identifier: contracts.voting, contains: 'action-proposal' };
    return deliveries(blocks.filter((b) => b.height >= from), { predicate, uuid: url.searchParams.get('uuid') ?? 'simnet-chain', decode });
  }
  return undefined;
}

function answerApi(path, url) {
  if (path === '/extended/v1/status') {
    const height = simnet.stacksBlockHeight;
    const tip = { block_height: height, block_hash: blockHash(height), index_block_hash: blockHash(height), burn_block_height: simnet.burnBlockHeight };
    return { server_version: 'simnet-chain', status: 'ready', chain_tip: tip };
  }
  if (path === '/extended/v2/burn-blocks') {
    const heights = Array.from({ length: 30 }, (_, i) => simnet.burnBlockHeight - i).filter((h) => h >= 0);
    return page(heights.map((h) => ({ burn_block_height: h, burn_block_hash: `0x${h.toString(16).padStart(64, '0')}`, burn_block_time: burnTime(h) })), url);
  }
  let match = path.match(/^\/extended\/v1\/address\/([^/]+)\/nonces$/);
  if (match) {
    const next = Number(nonces.get(match[1]) ?? 0n);
    return { last_executed_tx_nonce: next > 0 ? next - 1 : null, last_mempool_tx_nonce: null, possible_next_nonce: next, detected_missing_nonces: [], detected_mempool_nonces: [] };
  }
  match = path.match(/^\/v2\/contracts\/interface\/([^/]+)\/([^/]+)$/);
  if (match) return simnet.getContractsInterfaces().get(`${match[1]}.${match[2]}`) ?? null;
  if (path === '/extended/v1/tx/events') {
    const found = byTxid.get(url.searchParams.get('tx_id'));
    if (!found) return null;
    const { results, ...rest } = page(apiEvents(found.record), url);
    return { ...rest, events: results };
  }
  match = path.match(/^\/extended\/v1\/tx\/(0x[0-9a-f]{64})$/);
  if (match) return byTxid.has(match[1]) ? apiTx(byTxid.get(match[1]), true) : null;
  match = path.match(/^\/extended\/v1\/contract\/([^/]+)\/events$/);
  if (match) {
    // The contract's print events, newest first (block, transaction, event), paged without a total.
    const printed = blocks
      .flatMap((block) => block.txs.flatMap((record) => apiEvents(record)))
      .filter((event) => event.event_type === 'smart_contract_log' && event.contract_log.contract_id === match[1])
      .reverse();
    const { total: _total, results, ...rest } = page(printed, url);
    return { ...rest, results };
  }
  match = path.match(/^\/extended\/v2\/blocks\/([0-9]+)(\/transactions)?$/);
  if (match) {
    const height = Number(match[1]);
    const block = blocks.find((b) => b.height === height);
    if (!block) return null;
    return match[2] ? page(block.txs.map((record) => apiTx({ record, block }, false)), url) : apiBlock(block);
  }
  return undefined;
}

async function readBody(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const server = createServer(async (request, response) => {
  const send = (status, body) => {
    response.writeHead(status, { 'Content-Type': 'application/json' });
    response.end(typeof body === 'string' ? body : stringify(body));
  };
  try {
    const url = new URL(request.url, 'http://simnet');
    const raw = await readBody(request);
    if (url.pathname === '/v2/transactions' && request.method === 'POST') {
      const transaction = deserializeTransaction(raw.toString('hex'));
      const { error, reason, txid } = submit(transaction);
      return error ? send(400, { error, reason, txid: txid.slice(2) }) : send(200, JSON.stringify(txid.slice(2)));
    }
    if (url.pathname === '/v2/fees/transaction') return send(400, { error: 'Estimation could not be performed', reason: 'NoEstimateAvailable' });
    if (url.pathname.startsWith('/control/')) {
      const answer = await control(request.method, url.pathname, raw.length ? JSON.parse(raw) : {}, url);
      return answer === undefined ? send(404, { error: 'not found' }) : send(200, answer);
    }
    const answer = request.method === 'GET' ? answerApi(url.pathname, url) : undefined;
    return answer ? send(200, answer) : send(404, { error: 'not found' });
  } catch (error) {
    return send(500, { error: String(error.stack ?? error) });
  }
});

await setUp();
server.listen(Number(process.env.SIMNET_CHAIN_PORT ?? 0), '127.0.0.1');
await once(server, 'listening');
// Where to find it, written whole (the simnet writes the contracts' prints to stdout).
const ready = JSON.stringify({ url: `http://127.0.0.1:${server.address().port}`, ...contracts, accounts, deployer: TESTNET_ADDRESS });
if (process.env.SIMNET_CHAIN_READY_FILE) {
  writeFileSync(`${process.env.SIMNET_CHAIN_READY_FILE}.tmp`, ready);
  renameSync(`${process.env.SIMNET_CHAIN_READY_FILE}.tmp`, process.env.SIMNET_CHAIN_READY_FILE);
} else {
  console.log(ready);
}
