// What the VM executed, as Hiro Chainhook delivers it for a Stacks predicate: each block is an
// apply block of the predicate's matching transactions, and each print event carries the
// VM's own consensus serialisation (`raw_value`, decode_clarity_values false) or Chainhook's
// JSON rendering of that same value (`value`, decode_clarity_values true). The shape is
// chainhook-sdk's (serialize_stacks_payload_to_json, serialize_stacks_transaction,
// serialized_event_with_decoded_clarity_value, serialize_to_json); hashes and timings are ours.
import { createHash } from 'node:crypto';

import { Cl, ClarityType, cvToString } from '@stacks/transactions';

const hash = (seed) => `0x${createHash('sha256').update(seed).digest('hex')}`;
// A block's hash, the same in a delivery and in the API's answers (the simnet has none to give).
export const blockHash = (height) => hash(`block ${height}`);

// Chainhook's JSON of a Clarity value (serialize_to_json): ints as numbers (of any size),
// buffers as "0x<hex>", principals and strings as strings, none as null, some as its value,
// a response as {result: {success, value}}, a tuple as an object, a list as an array.
export function decodedJson(cv) {
  switch (cv.type) {
    case ClarityType.Int:
    case ClarityType.UInt:
      return BigInt(cv.value);
    case ClarityType.BoolTrue:
      return true;
    case ClarityType.BoolFalse:
      return false;
    case ClarityType.Buffer:
      return `0x${cv.value}`;
    case ClarityType.PrincipalStandard:
    case ClarityType.PrincipalContract:
    case ClarityType.StringASCII:
    case ClarityType.StringUTF8:
      return cv.value;
    case ClarityType.OptionalNone:
      return null;
    case ClarityType.OptionalSome:
      return decodedJson(cv.value);
    case ClarityType.ResponseOk:
    case ClarityType.ResponseErr:
      return { result: { success: cv.type === ClarityType.ResponseOk, value: decodedJson(cv.value) } };
    case ClarityType.Tuple: // keys in order, as Clarity's map of them (and serde_json's) keeps them
      return Object.fromEntries(
        Object.keys(cv.value)
          .sort()
          .map((key) => [key, decodedJson(cv.value[key])]),
      );
    case ClarityType.List:
      return cv.value.map(decodedJson);
    default:
      throw new Error(`no JSON rendering for Clarity type ${cv.type}`);
  }
}

// JSON text in which a BigInt is written as the number it is (serde_json writes a u128 whole;
// JSON.stringify refuses BigInt, and a Number would round amounts above 2^53).
export function stringify(value) {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map(stringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .map(([key, item]) => `${JSON.stringify(key)}:${stringify(item)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

// One VM event as a receipt event; `index` is the event's position in its block.
function receiptEvent(event, index, decode) {
  const position = { index };
  const { data } = event;
  if (event.event === 'print_event') {
    const shown = { contract_identifier: data.contract_identifier, topic: data.topic };
    if (decode) shown.value = decodedJson(Cl.deserialize(data.raw_value));
    else shown.raw_value = data.raw_value.startsWith('0x') ? data.raw_value : `0x${data.raw_value}`;
    return { type: 'SmartContractEvent', data: shown, position };
  }
  const types = {
    ft_transfer_event: 'FTTransferEvent',
    ft_mint_event: 'FTMintEvent',
    ft_burn_event: 'FTBurnEvent',
    stx_transfer_event: 'STXTransferEvent',
  };
  const type = types[event.event];
  if (!type) return null; // NFT and STX lock events: none in these contracts
  const { value: _value, raw_value: _raw, ...rest } = data;
  return { type, data: rest, position };
}

// The transaction's `kind`, from the signed transaction the VM executed.
function kindOf(record) {
  if (record.deploy) return { type: 'ContractDeployment', data: { contract_identifier: record.contractId, code: record.code } };
  return { type: 'ContractCall', data: { contract_identifier: record.contractId, method: record.functionName, args: record.args.map(cvToString) } };
}

// A mined block of recorded transactions ({txid, rawTx, sender, nonce, fee, contractId, ...,
// result, events}) as a Chainhook Stacks block.
export function chainhookBlock(block, { decode }) {
  let eventIndex = 0;
  const transactions = block.txs.map((record, position) => {
    const events = record.events.map((event) => receiptEvent(event, eventIndex++, decode)).filter(Boolean);
    const kind = kindOf(record);
    const description = record.deploy
      ? `deployed: ${record.contractId}`
      : `invoked: ${record.contractId}::${record.functionName}(${kind.data.args.join(', ')})`;
    return {
      transaction_identifier: { hash: record.txid },
      operations: [],
      metadata: {
        success: record.success,
        raw_tx: record.rawTx,
        result: cvToString(record.result),
        sender: record.sender,
        nonce: record.nonce,
        fee: record.fee,
        kind,
        receipt: {
          mutated_contracts_radius: [record.contractId],
          mutated_assets_radius: [],
          contract_calls_stack: [],
          events,
        },
        description,
        sponsor: null,
        execution_cost: record.cost,
        position: { index: position },
      },
    };
  });
  return {
    block_identifier: { index: block.height, hash: blockHash(block.height) },
    parent_block_identifier: { index: block.height - 1, hash: blockHash(block.height - 1) },
    timestamp: block.time,
    transactions,
    metadata: {
      bitcoin_anchor_block_identifier: { index: block.burnHeight, hash: hash(`burn ${block.burnHeight}`) },
      block_time: block.time,
      confirm_microblock_identifier: null,
      cycle_number: null,
      pox_cycle_index: Math.floor(block.burnHeight / 20),
      pox_cycle_length: 20,
      pox_cycle_position: block.burnHeight % 20,
      reward_set: null,
      signer_bitvec: '013700000027ffffffffffffffffffffffffffffff7f',
      signer_public_keys: [],
      signer_signature: [],
      stacks_block_hash: hash(`stacks block ${block.height}`),
      tenure_height: block.burnHeight,
    },
  };
}

// Whether a print-event predicate {contract_identifier, contains} matches a transaction: as
// Chainhook does it, on the printed value's Clarity text.
export function matches(record, predicate) {
  return record.events.some(
    (event) =>
      event.event === 'print_event' &&
      event.data.topic === 'print' &&
      (predicate.contract_identifier === '*' || predicate.contract_identifier === event.data.contract_identifier) &&
      (predicate.contains === '*' || cvToString(Cl.deserialize(event.data.raw_value)).includes(predicate.contains)),
  );
}

// The POST bodies a chainhook with this predicate sends: one per block holding a matching
// transaction, with only the matching transactions, as Chainhook filters them.
export function deliveries(blocks, { predicate, uuid, decode }) {
  return blocks
    .map((block) => ({ ...block, txs: block.txs.filter((record) => matches(record, predicate)) }))
    .filter((block) => block.txs.length > 0)
    .map((block) => ({
      apply: [chainhookBlock(block, { decode })],
      rollback: [],
      events: [],
      chainhook: { uuid, predicate: { scope: 'print_event', ...predicate }, is_streaming_blocks: true },
    }));
}
