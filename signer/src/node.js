// What the signer asks of the Stacks node and the Stacks API: nonces, fee estimates, contract
// interfaces (cached), broadcasts and transaction statuses. Every request carries x-api-key when
// HIRO_API_KEY is set.
import { serializePayload } from '@stacks/transactions';

export class UpstreamError extends Error {}

export function nodeClient(config) {
  const headers = config.hiroApiKey ? { 'x-api-key': config.hiroApiKey } : {};
  const url = (base, path) => `${base.replace(/\/$/, '')}${path}`;
  const interfaces = new Map();

  async function json(base, path, init = {}) {
    const response = await fetch(url(base, path), { ...init, headers: { ...headers, ...(init.headers ?? {}) } });
    if (!response.ok) throw new UpstreamError(`${path} answered ${response.status}`);
    return response.json();
  }

  return {
    // The nonce the next transaction of `address` must carry: the lowest missing one when a
    // dropped transaction left a gap (every later one waits for it), else possible_next_nonce,
    // which counts the mempool, so a restart with a transaction pending never reuses its nonce.
    async nextNonce(address) {
      const body = await json(config.apiUrl, `/extended/v1/address/${address}/nonces`);
      const missing = (body.detected_missing_nonces ?? []).map(BigInt).sort((a, b) => (a < b ? -1 : 1));
      return missing.length ? missing[0] : BigInt(body.possible_next_nonce);
    },

    // The node's middle estimate for this transaction, or null when it cannot estimate one.
    async estimateFee(transaction) {
      const body = JSON.stringify({ transaction_payload: serializePayload(transaction.payload), estimated_len: transaction.serializeBytes().length });
      try {
        const answer = await json(config.nodeUrl, '/v2/fees/transaction', { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
        const fees = (answer.estimations ?? []).map((e) => BigInt(e.fee));
        return fees.length ? fees[Math.min(1, fees.length - 1)] : null;
      } catch (error) {
        if (error instanceof UpstreamError) return null; // e.g. 400 NoEstimateAvailable: use the configured fee
        throw error;
      }
    },

    // The contract's interface, fetched once per contract: every call is checked against it.
    async contractInterface(contractId) {
      if (!interfaces.has(contractId)) {
        const [address, name] = contractId.split('.');
        interfaces.set(contractId, await json(config.nodeUrl, `/v2/contracts/interface/${address}/${name}`));
      }
      return interfaces.get(contractId);
    },

    // {txid} when the node accepted it, {error, reason} when it refused it.
    async broadcast(transaction) {
      const response = await fetch(url(config.nodeUrl, '/v2/transactions'), {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/octet-stream' },
        body: transaction.serializeBytes(),
      });
      const text = await response.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        throw new UpstreamError(`the node answered ${response.status} with no JSON`);
      }
      if (response.ok && typeof body === 'string') return { txid: body.startsWith('0x') ? body : `0x${body}` };
      if (response.status >= 500) throw new UpstreamError(`the node answered ${response.status}`);
      return { error: String(body?.error ?? 'rejected'), reason: String(body?.reason ?? '') };
    },

    // The chain's view of a transaction (Stacks API), or null when it does not know it.
    async transaction(txid) {
      const response = await fetch(url(config.apiUrl, `/extended/v1/tx/${txid}`), { headers });
      if (response.status === 404) return null;
      if (!response.ok) throw new UpstreamError(`the Stacks API answered ${response.status}`);
      return response.json();
    },
  };
}
