// Signing contract calls with the service's key (@stacks/transactions), nonces, and broadcasting.
import { createNetwork } from '@stacks/network';
import { broadcastTransaction, makeContractCall, PostConditionMode, privateKeyToAddress } from '@stacks/transactions';

export function networkFor(config) {
  return createNetwork({ network: config.network, client: { baseUrl: config.nodeUrl } });
}

export function addressOf(config) {
  return privateKeyToAddress(config.privateKey, config.network);
}

// Sign one call; nonce and fee are given, so signing needs no network access.
export async function sign(call, { privateKey, network, nonce, fee }) {
  const [contractAddress, contractName] = call.contractId.split('.');
  return makeContractCall({
    contractAddress,
    contractName,
    functionName: call.functionName,
    functionArgs: call.functionArgs,
    senderKey: privateKey,
    network,
    nonce: BigInt(nonce),
    fee: BigInt(fee),
    postConditionMode: PostConditionMode.Deny,
    validateWithAbi: false,
  });
}

// The next nonce of the address, as the node sees it (GET /v2/accounts/{address}).
export async function accountNonce(config, address) {
  const response = await fetch(`${config.nodeUrl.replace(/\/$/, '')}/v2/accounts/${address}?proof=0`);
  if (!response.ok) throw new Error(`the Stacks node answered ${response.status} for the account's nonce`);
  const body = await response.json();
  return BigInt(body.nonce);
}

// Broadcast to the node; {txid} on acceptance, {error, reason} when the node refuses it.
export async function broadcast(transaction, network) {
  const answer = await broadcastTransaction({ transaction, network });
  if (answer && typeof answer.txid === 'string' && !answer.error) return { txid: answer.txid.startsWith('0x') ? answer.txid : `0x${answer.txid}` };
  return { error: String(answer?.error ?? 'rejected'), reason: String(answer?.reason ?? answer?.error ?? '') };
}
