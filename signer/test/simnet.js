// A simnet of the test contracts (clarity/) standing in for a Stacks node: the transactions the
// signer signs are decoded and executed there, as a node would execute them.
import { fileURLToPath } from 'node:url';

import { initSimnet } from '@stacks/clarinet-sdk';
import { addressFromVersionHash, addressToString, AddressVersion, deserializeTransaction, PayloadType } from '@stacks/transactions';

export const MANIFEST = fileURLToPath(new URL('../clarity/Clarinet.toml', import.meta.url));
export const TEMPLATES = fileURLToPath(new URL('../clarity/contracts/', import.meta.url));

export async function startSimnet() {
  return initSimnet(MANIFEST);
}

// Replace what each `;; /g/<find>/<key>` marker names on the line after it, as the aibtc
// contract generator does with its templates.
export function render(source, values) {
  const lines = source.split('\n');
  for (let i = 0; i < lines.length - 1; i += 1) {
    const marker = /^\s*;; \/g\/(.+)\/([a-z0-9_]+)\s*$/.exec(lines[i]);
    if (!marker) continue;
    const [, find, key] = marker;
    if (!(key in values)) throw new Error(`no value for template key ${key}`);
    lines[i + 1] = lines[i + 1].split(find).join(values[key]);
  }
  return lines.join('\n');
}

// The sender of a signed transaction: the address of its spending condition's key hash.
export function senderOf(tx) {
  const condition = tx.auth.spendingCondition;
  return addressToString(addressFromVersionHash(AddressVersion.TestnetSingleSig, condition.signer));
}

// Execute a serialized transaction in the simnet; the simnet's result ({result, events}).
export function execute(simnet, transaction) {
  const tx = deserializeTransaction(transaction.serialize());
  const sender = senderOf(tx);
  if (tx.payload.payloadType === PayloadType.VersionedSmartContract || tx.payload.payloadType === PayloadType.SmartContract) {
    const name = tx.payload.contractName.content;
    return simnet.deployContract(name, tx.payload.codeBody.content, { clarityVersion: tx.payload.clarityVersion ?? 3 }, sender);
  }
  const contractId = `${addressToString(tx.payload.contractAddress)}.${tx.payload.contractName.content}`;
  return simnet.callPublicFn(contractId, tx.payload.functionName.content, tx.payload.functionArgs, sender);
}

// The node the signer talks to, answered by the simnet: every broadcast is executed at once.
export function simnetNode(simnet) {
  const nonces = new Map();
  const executed = [];
  return {
    executed,
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
      const sender = senderOf(deserializeTransaction(transaction.serialize()));
      nonces.set(sender, (nonces.get(sender) ?? 0n) + 1n);
      executed.push({ txid: `0x${transaction.txid()}`, transaction, ...execute(simnet, transaction) });
      return { txid: `0x${transaction.txid()}` };
    },
    async transaction() {
      return null;
    },
  };
}
