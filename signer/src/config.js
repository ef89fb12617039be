// The service's configuration, from the environment only (keys never come from a file in the repository).
export function configFromEnv(env = process.env) {
  const missing = ['SIGNER_PRIVATE_KEY', 'STACKS_NODE_URL'].filter((name) => !env[name]);
  if (missing.length) throw new Error(`set ${missing.join(' and ')} (see signer/README.md)`);
  const network = env.SIGNER_NETWORK || 'mainnet';
  if (!['mainnet', 'testnet'].includes(network)) throw new Error('SIGNER_NETWORK must be mainnet or testnet');
  return {
    privateKey: env.SIGNER_PRIVATE_KEY,
    network,
    nodeUrl: env.STACKS_NODE_URL,
    apiUrl: env.STACKS_API_URL || '',
    apiKey: env.SIGNER_API_KEY || '',
    fee: BigInt(env.SIGNER_FEE_USTX || '10000'),
    daoFactory: env.SIGNER_DAO_FACTORY || '',
    agentAccountFactory: env.SIGNER_AGENT_ACCOUNT_FACTORY || '',
    stateFile: env.SIGNER_STATE_FILE || '',
    host: env.SIGNER_HOST || '127.0.0.1',
    port: Number(env.SIGNER_PORT || 8787),
  };
}
