// The service's configuration, from the environment only (keys never come from a file in the repository).
import { privateKeyToAddress } from '@stacks/transactions';

const KEY = /^[0-9a-f]{64}(01)?$/i;

function positive(env, name, fallback) {
  const raw = env[name] ?? fallback;
  if (!/^[0-9]+$/.test(String(raw))) throw new Error(`${name} must be a whole number`);
  return BigInt(raw);
}

export function configFromEnv(env = process.env) {
  const missing = ['SIGNER_PRIVATE_KEY', 'STACKS_NODE_URL'].filter((name) => !env[name]);
  if (missing.length) throw new Error(`set ${missing.join(' and ')} (see signer/README.md)`);
  const network = env.SIGNER_NETWORK || 'mainnet';
  if (!['mainnet', 'testnet'].includes(network)) throw new Error('SIGNER_NETWORK must be mainnet or testnet');
  const agentKeys = (env.SIGNER_AGENT_KEYS || '').split(',').map((key) => key.trim()).filter(Boolean);
  for (const key of [env.SIGNER_PRIVATE_KEY, ...agentKeys]) {
    if (!KEY.test(key)) throw new Error('SIGNER_PRIVATE_KEY and each of SIGNER_AGENT_KEYS must be a hex private key (64 or 66 characters)');
  }
  return {
    privateKey: env.SIGNER_PRIVATE_KEY,
    agentKeys,
    network,
    nodeUrl: env.STACKS_NODE_URL,
    apiUrl: env.STACKS_API_URL || env.STACKS_NODE_URL,
    hiroApiKey: env.HIRO_API_KEY || '',
    apiKey: env.SIGNER_API_KEY || '',
    fee: positive(env, 'SIGNER_FEE_USTX', '10000'),
    maxFee: positive(env, 'SIGNER_MAX_FEE_USTX', '1000000'),
    replaceAfterSeconds: Number(positive(env, 'SIGNER_REPLACE_AFTER_SECONDS', '1800')),
    stateFile: env.SIGNER_STATE_FILE || '',
    host: env.SIGNER_HOST || '127.0.0.1',
    port: Number(env.SIGNER_PORT || 8787),
  };
}

// Address -> private key of every key the service holds; 'deployer' is the service's own key.
export function keyring(config) {
  const keys = new Map([['deployer', config.privateKey]]);
  for (const key of config.agentKeys ?? []) keys.set(privateKeyToAddress(key, config.network), key);
  return keys;
}
