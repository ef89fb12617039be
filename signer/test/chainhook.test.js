// tools/chainhook.js renders Clarity values as Chainhook does (chainhook-sdk's serialize_to_json)
// and shapes blocks as its Stacks payload; tools/simnet-chain.js hands these to the Python suite.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Cl, cvToHex } from '@stacks/transactions';

import { chainhookBlock, decodedJson, deliveries, stringify } from '../tools/chainhook.js';

const ACCOUNT = 'STMYA705ADHF9HNRJQG4ZW04X69ZBFV2GTQNWJEV.aibtc-acct-ST3TC-JJX8G-ST2RR-V1NWE';
const VOTING = 'STMYA705ADHF9HNRJQG4ZW04X69ZBFV2GTQNWJEV.faces-action-proposal-voting';

test('values render by Chainhook rules: numbers whole, buffers 0x, none null, some its value, responses wrapped', () => {
  const value = Cl.tuple({
    amount: Cl.uint(10_000_000_000_000_000n),
    delta: Cl.int(-3),
    parameters: Cl.bufferFromHex('0d0000000568656c6c6f'),
    voter: Cl.principal(ACCOUNT),
    memo: Cl.none(),
    title: Cl.some(Cl.stringAscii('Fund the docs')),
    text: Cl.stringUtf8('café ☕'),
    outcome: Cl.ok(Cl.bool(true)),
    refused: Cl.error(Cl.uint(1310)),
    list: Cl.list([Cl.uint(1), Cl.uint(2)]),
  });
  // A uint above 2^53 is written whole, as serde_json writes a u128.
  assert.equal(
    stringify(decodedJson(value)),
    '{"amount":10000000000000000,"delta":-3,"list":[1,2],"memo":null,"outcome":{"result":{"success":true,"value":true}},' +
      '"parameters":"0x0d0000000568656c6c6f","refused":{"result":{"success":false,"value":1310}},"text":"café ☕",' +
      '"title":"Fund the docs","voter":"' + ACCOUNT + '"}',
  );
});

const print = (contract, value) => ({ event: 'print_event', data: { contract_identifier: contract, topic: 'print', raw_value: cvToHex(value), value } });
const record = (events) => ({
  txid: `0x${'ab'.repeat(32)}`,
  rawTx: '0x8080',
  sender: 'ST2RR5T1RW9M9DE3BDA46QC8GF7QZXAA9ZP5V1NWE',
  nonce: 0,
  fee: 3000,
  contractId: ACCOUNT,
  functionName: 'vote-on-action-proposal',
  args: [Cl.principal(VOTING), Cl.uint(1), Cl.bool(true)],
  result: Cl.ok(Cl.bool(true)),
  success: true,
  events,
  cost: { read_count: 1, read_length: 1, runtime: 1, write_count: 1, write_length: 1 },
});

test("a print carries the VM's serialisation, or its rendering, never both", () => {
  const value = Cl.tuple({ notification: Cl.stringAscii('faces-action-proposal-voting/vote-on-action-proposal'), payload: Cl.tuple({ proposalId: Cl.uint(1) }) });
  const block = { height: 12, burnHeight: 7, time: 1_764_000_007, txs: [record([print(VOTING, value)])] };
  const [raw] = chainhookBlock(block, { decode: false }).transactions[0].metadata.receipt.events;
  assert.deepEqual(raw, { type: 'SmartContractEvent', data: { contract_identifier: VOTING, topic: 'print', raw_value: cvToHex(value) }, position: { index: 0 } });
  const decoded = chainhookBlock(block, { decode: true });
  assert.deepEqual(decoded.transactions[0].metadata.receipt.events[0].data.value, { notification: 'faces-action-proposal-voting/vote-on-action-proposal', payload: { proposalId: 1n } });
  assert.equal(decoded.transactions[0].metadata.kind.data.args.join(', '), `${VOTING}, u1, true`);
  assert.equal(decoded.metadata.bitcoin_anchor_block_identifier.index, 7);
  assert.equal(decoded.block_identifier.index, 12);
});

test('a print-event predicate delivers only the blocks and transactions it matches', () => {
  const ours = print(VOTING, Cl.tuple({ notification: Cl.stringAscii('faces-action-proposal-voting/vote-on-action-proposal') }));
  const other = print(ACCOUNT, Cl.tuple({ notification: Cl.stringAscii('aibtc-agent-account/deposit-ft') }));
  const blocks = [
    { height: 1, burnHeight: 1, time: 1, txs: [record([other])] },
    { height: 2, burnHeight: 1, time: 2, txs: [record([other]), record([other, ours])] },
  ];
  const bodies = deliveries(blocks, { predicate: { contract_identifier: VOTING, contains: 'action-proposal' }, uuid: 'hook', decode: false });
  assert.equal(bodies.length, 1);
  assert.deepEqual(Object.keys(bodies[0]).sort(), ['apply', 'chainhook', 'events', 'rollback']);
  assert.equal(bodies[0].apply[0].transactions.length, 1);
  assert.deepEqual(bodies[0].chainhook.predicate, { scope: 'print_event', contract_identifier: VOTING, contains: 'action-proposal' });
});
