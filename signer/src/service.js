// Sending transactions: one at a time per key, each with the node's next nonce and an
// estimated fee under the ceiling, re-synced when the node refuses the nonce, and replaced
// (same nonce, higher fee) once pending for too long.
import { ActionError, transactionFor } from './actions.js';
import { keyring } from './config.js';
import { nodeClient, UpstreamError } from './node.js';
import { addressOf, networkFor, sign } from './signer.js';

const NONCE_ERRORS = ['BadNonce', 'ConflictingNonceInMempool'];
const MAX_NONCE_TRIES = 4;
const REPLACEMENT_FACTOR_PERCENT = 150n; // the node wants a higher fee to replace a transaction

export function createSender(config, node = nodeClient(config)) {
  const keys = keyring(config);
  const network = networkFor(config);
  const settings = { ...config, agents: [...keys.keys()].filter((a) => a !== 'deployer') };
  const queues = new Map();

  // Calls for one key run one after another, so two requests never take the same nonce.
  function serialised(address, work) {
    const run = (queues.get(address) ?? Promise.resolve()).then(work);
    queues.set(address, run.catch(() => undefined));
    return run;
  }

  async function signed(built, key, nonce, fee) {
    const abi = built.kind === 'call' ? await node.contractInterface(built.contractId) : undefined;
    try {
      return await sign(built, { privateKey: key, network, nonce, fee, abi });
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      // validateWithAbi refused it: the call does not fit the contract as deployed.
      throw new ActionError(`the call does not match ${built.contractId}'s interface: ${error.message}`);
    }
  }

  async function feeFor(built, key, nonce, floor = 0n) {
    const draft = await signed(built, key, nonce, config.fee);
    const estimate = (await node.estimateFee(draft)) ?? config.fee;
    const wanted = estimate > floor ? estimate : floor;
    return wanted > config.maxFee ? config.maxFee : wanted;
  }

  async function send(built, key, address, nonce, fee) {
    const transaction = await signed(built, key, nonce, fee);
    const outcome = await node.broadcast(transaction);
    return { transaction, outcome, address };
  }

  // Sign and broadcast one action; the receipt (status broadcast or rejected) and what is
  // needed to replace it later.
  async function perform(action, args) {
    const built = transactionFor(action, args, settings);
    const key = keys.get(built.signer);
    const address = built.signer === 'deployer' ? addressOf(config) : built.signer;
    return serialised(address, async () => {
      let nonce = await node.nextNonce(address);
      const fee = await feeFor(built, key, nonce);
      let sent;
      for (let attempt = 1; ; attempt += 1) {
        sent = await send(built, key, address, nonce, fee);
        const refusedNonce = sent.outcome.error && NONCE_ERRORS.some((name) => `${sent.outcome.error} ${sent.outcome.reason}`.includes(name));
        if (!refusedNonce || attempt === MAX_NONCE_TRIES) break;
        // Another use of the key, or a pending transaction the API has not indexed yet: read again.
        const fresh = await node.nextNonce(address);
        nonce = fresh > nonce ? fresh : nonce + 1n;
      }
      return receipt(built, sent, nonce, fee);
    });
  }

  // The same call again with the same nonce and a higher fee, for a transaction stuck pending.
  async function replace(action, args, previous) {
    const built = transactionFor(action, args, settings);
    const key = keys.get(built.signer);
    const oldFee = BigInt(previous.fee);
    if (oldFee >= config.maxFee) return null; // at the ceiling already: nothing higher to offer
    return serialised(previous.signer_address, async () => {
      const floor = (oldFee * REPLACEMENT_FACTOR_PERCENT) / 100n + 1n;
      const fee = await feeFor(built, key, BigInt(previous.nonce), floor);
      const sent = await send(built, key, previous.signer_address, BigInt(previous.nonce), fee);
      if (sent.outcome.error) return null;
      return { ...receipt(built, sent, BigInt(previous.nonce), fee), replaced_txid: previous.txid };
    });
  }

  return { perform, replace, node, address: addressOf(config) };
}

function receipt(built, { transaction, outcome, address }, nonce, fee) {
  const base = {
    nonce: Number(nonce),
    fee: Number(fee),
    signer_address: address,
    ...(built.kind === 'call'
      ? { contract_id: built.contractId, function_name: built.functionName }
      : { contract_id: `${address}.${built.contractName}` }),
    sent_at: new Date().toISOString(),
  };
  if (outcome.error) return { txid: `0x${transaction.txid()}`, status: 'rejected', reason: `${outcome.error}: ${outcome.reason}`, ...base };
  return { txid: outcome.txid, status: 'broadcast', ...base };
}
