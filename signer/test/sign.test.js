// A signed contract call decodes, with the same library, to what was asked, and its signature
// verifies against the key's public key.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  addressToString,
  Cl,
  deserializeTransaction,
  privateKeyToPublic,
  publicKeyFromSignatureVrs,
  serializeCV,
  sigHashPreSign,
} from '@stacks/transactions';

import { contractCallFor } from '../src/actions.js';
import { networkFor, sign } from '../src/signer.js';
import { ADDRESS, DAO, PRIVATE_KEY, PUBLIC_KEY } from './keys.js';

const config = { privateKey: PRIVATE_KEY, network: 'mainnet', nodeUrl: 'http://127.0.0.1:1', address: ADDRESS };

test('a vote decodes to the function, arguments, nonce and fee asked for', async () => {
  const call = contractCallFor('vote', { dao_contract: DAO, proposal_id: 7, approve: true, voter: ADDRESS }, config);
  const signed = await sign(call, { privateKey: PRIVATE_KEY, network: networkFor(config), nonce: 5, fee: 2000 });
  const decoded = deserializeTransaction(signed.serialize());
  assert.equal(addressToString(decoded.payload.contractAddress), DAO.split('.')[0]);
  assert.equal(decoded.payload.contractName.content, 'face-dao');
  assert.equal(decoded.payload.functionName.content, 'vote-on-action-proposal');
  assert.deepEqual(
    decoded.payload.functionArgs.map((arg) => serializeCV(arg)),
    [serializeCV(Cl.uint(7)), serializeCV(Cl.bool(true))],
  );
  assert.equal(decoded.auth.spendingCondition.nonce, 5n);
  assert.equal(decoded.auth.spendingCondition.fee, 2000n);
  assert.equal(decoded.txid(), signed.txid());
});

test('the signature verifies against the public key of the signing key', async () => {
  assert.equal(privateKeyToPublic(PRIVATE_KEY), PUBLIC_KEY);
  const call = contractCallFor('conclude', { dao_contract: DAO, proposal_id: 7 }, config);
  const signed = await sign(call, { privateKey: PRIVATE_KEY, network: networkFor(config), nonce: 6, fee: 3000 });
  const decoded = deserializeTransaction(signed.serialize());
  const condition = decoded.auth.spendingCondition;
  const presign = sigHashPreSign(decoded.signBegin(), decoded.auth.authType, condition.fee, condition.nonce);
  assert.equal(publicKeyFromSignatureVrs(presign, condition.signature.data), PUBLIC_KEY);
  decoded.verifyOrigin(); // the library's own check: throws on a bad signature
  // A tampered transaction no longer matches the key.
  const tampered = deserializeTransaction(signed.serialize());
  tampered.auth.spendingCondition.nonce = 7n;
  const other = sigHashPreSign(tampered.signBegin(), tampered.auth.authType, 3000n, 7n);
  assert.notEqual(publicKeyFromSignatureVrs(other, condition.signature.data), PUBLIC_KEY);
});

test('bad arguments are refused before anything is signed', () => {
  assert.throws(() => contractCallFor('vote', { dao_contract: 'nope', proposal_id: 1, approve: true, voter: ADDRESS }, config), /dao_contract/);
  assert.throws(() => contractCallFor('vote', { dao_contract: DAO, proposal_id: -1, approve: true, voter: ADDRESS }, config), /proposal_id/);
  assert.throws(() => contractCallFor('vote', { dao_contract: DAO, proposal_id: 1, approve: true, voter: DAO.split('.')[0] }, config), /signs for/);
  assert.throws(() => contractCallFor('deploy_dao', {}, config), /SIGNER_DAO_FACTORY/);
  assert.throws(() => contractCallFor('transfer', {}, config), /unknown action/);
});
