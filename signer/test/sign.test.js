// A signed transaction decodes, with the same library, to what was asked, and its signature
// verifies against the key's public key.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  addressToString,
  Cl,
  deserializeTransaction,
  PostConditionMode,
  privateKeyToPublic,
  publicKeyFromSignatureVrs,
  serializeCV,
  sigHashPreSign,
} from '@stacks/transactions';

import { transactionFor } from '../src/actions.js';
import { agentAccountName } from '../src/contracts.js';
import { networkFor, sign } from '../src/signer.js';
import { AGENTS, OWNERS, PRIVATE_KEY, PUBLIC_KEY, TESTNET_ADDRESS } from './keys.js';

const config = { privateKey: PRIVATE_KEY, network: 'testnet', nodeUrl: 'http://127.0.0.1:1', agents: [AGENTS[0].address] };
const ACCOUNT = `${TESTNET_ADDRESS}.${agentAccountName(OWNERS[0].address, AGENTS[0].address)}`;
const VOTING = `${TESTNET_ADDRESS}.faces-action-proposal-voting`;
const ACTION = `${TESTNET_ADDRESS}.faces-action-send-message`;

test('a vote decodes to the account call, arguments, nonce and fee asked for', async () => {
  const built = transactionFor('vote', { account_contract: ACCOUNT, voting_contract: VOTING, proposal_id: 7, vote: true }, config);
  assert.equal(built.signer, AGENTS[0].address);
  const signed = await sign(built, { privateKey: AGENTS[0].key, network: networkFor(config), nonce: 5, fee: 2000 });
  const decoded = deserializeTransaction(signed.serialize());
  assert.equal(addressToString(decoded.payload.contractAddress), TESTNET_ADDRESS);
  assert.equal(decoded.payload.contractName.content, ACCOUNT.split('.')[1]);
  assert.equal(decoded.payload.functionName.content, 'vote-on-action-proposal');
  assert.deepEqual(
    decoded.payload.functionArgs.map((arg) => serializeCV(arg)),
    [serializeCV(Cl.contractPrincipal(...VOTING.split('.'))), serializeCV(Cl.uint(7)), serializeCV(Cl.bool(true))],
  );
  assert.equal(decoded.auth.spendingCondition.nonce, 5n);
  assert.equal(decoded.auth.spendingCondition.fee, 2000n);
  assert.equal(decoded.postConditionMode, PostConditionMode.Deny);
  assert.equal(decoded.txid(), signed.txid());
});

test('the signature verifies against the public key of the signing key', async () => {
  assert.equal(privateKeyToPublic(PRIVATE_KEY), PUBLIC_KEY);
  const built = transactionFor('conclude', { voting_contract: VOTING, proposal_id: 7, action_contract: ACTION }, config);
  const signed = await sign(built, { privateKey: PRIVATE_KEY, network: networkFor(config), nonce: 6, fee: 3000 });
  const decoded = deserializeTransaction(signed.serialize());
  assert.equal(decoded.postConditionMode, PostConditionMode.Allow);
  const condition = decoded.auth.spendingCondition;
  const presign = sigHashPreSign(decoded.signBegin(), decoded.auth.authType, condition.fee, condition.nonce);
  assert.equal(publicKeyFromSignatureVrs(presign, condition.signature.data), PUBLIC_KEY);
  decoded.verifyOrigin(); // the library's own check: throws on a bad signature
  const tampered = deserializeTransaction(signed.serialize());
  tampered.auth.spendingCondition.nonce = 7n;
  const other = sigHashPreSign(tampered.signBegin(), tampered.auth.authType, 3000n, 7n);
  assert.notEqual(publicKeyFromSignatureVrs(other, condition.signature.data), PUBLIC_KEY);
});

test('bad arguments are refused before anything is signed', () => {
  const vote = { account_contract: ACCOUNT, voting_contract: VOTING, proposal_id: 1, vote: true };
  assert.throws(() => transactionFor('vote', { ...vote, voting_contract: 'nope' }, config), /voting_contract/);
  assert.throws(() => transactionFor('vote', { ...vote, proposal_id: -1 }, config), /proposal_id/);
  assert.throws(() => transactionFor('vote', { ...vote, account_contract: VOTING }, config), /agent account/);
  assert.throws(() => transactionFor('conclude', { voting_contract: VOTING, proposal_id: 1 }, config), /action_contract/);
  assert.throws(() => transactionFor('deploy_contract', { contract_name: '1bad', source: '(ok true)' }, config), /contract_name/);
  assert.throws(
    () => transactionFor('deploy_agent_account', { owner_address: OWNERS[0].address, agent_address: AGENTS[0].address, source: '(ok true)' }, config),
    /does not name the owner/,
  );
  assert.throws(() => transactionFor('transfer', {}, config), /unknown action/);
});
