// Signing with @stacks/transactions: contract calls (checked against the contract's interface)
// and contract deployments. Nonce and fee are given, so signing needs no network access.
import { createNetwork } from '@stacks/network';
import { makeContractCall, makeContractDeploy, PostConditionMode, privateKeyToAddress } from '@stacks/transactions';

export function networkFor(config) {
  return createNetwork({ network: config.network, client: { baseUrl: config.nodeUrl } });
}

export function addressOf(config, key = config.privateKey) {
  return privateKeyToAddress(key, config.network);
}

export async function sign(built, { privateKey, network, nonce, fee, abi }) {
  const common = { senderKey: privateKey, network, nonce: BigInt(nonce), fee: BigInt(fee) };
  if (built.kind === 'deploy') {
    return makeContractDeploy({
      ...common,
      contractName: built.contractName,
      codeBody: built.codeBody,
      clarityVersion: built.clarityVersion,
      postConditionMode: PostConditionMode.Deny, // a deployment moves no asset of ours
    });
  }
  const [contractAddress, contractName] = built.contractId.split('.');
  return makeContractCall({
    ...common,
    contractAddress,
    contractName,
    functionName: built.functionName,
    functionArgs: built.functionArgs,
    postConditionMode: built.postConditionMode,
    postConditions: [],
    // The interface fetched from the node: a wrong function or argument type fails here, not on chain.
    validateWithAbi: abi ?? false,
  });
}
