// The actions the job queue asks for, as Stacks transactions (see docs/transaction-service.openapi.json).
// Each builder returns {signer, kind, ...}: `signer` names the key that signs it (an agent's
// address, or 'deployer' for the service's own key), `kind` is 'call' or 'deploy'.
import { Cl, PostConditionMode } from '@stacks/transactions';

import { AGENT_ACCOUNT_NAME, CONTRACT_NAME, CONTRACT_PRINCIPAL, FUNCTIONS, STANDARD_PRINCIPAL, agentAccountName } from './contracts.js';

export class ActionError extends Error {
  constructor(message, status = 422) {
    super(message);
    this.status = status;
  }
}

function field(args, name, check, what) {
  const value = args[name];
  if (!check(value)) throw new ActionError(`arguments.${name} must be ${what}`);
  return value;
}

const contract = (args, name) => field(args, name, (v) => typeof v === 'string' && CONTRACT_PRINCIPAL.test(v), 'a contract principal ADDRESS.name');
const principal = (args, name) => field(args, name, (v) => typeof v === 'string' && STANDARD_PRINCIPAL.test(v), 'a Stacks address');
const uint = (args, name) =>
  BigInt(field(args, name, (v) => (Number.isSafeInteger(v) && v >= 0) || (typeof v === 'string' && /^[0-9]{1,39}$/.test(v)), 'a non-negative integer'));
const bool = (args, name) => field(args, name, (v) => typeof v === 'boolean', 'true or false');
const source = (args) => field(args, 'source', (v) => typeof v === 'string' && v.length > 0 && v.length <= 100_000, 'Clarity source of at most 100,000 characters');
const clarityVersion = (args) => {
  const value = args.clarity_version ?? 3;
  if (![1, 2, 3, 4].includes(value)) throw new ActionError('arguments.clarity_version must be 1, 2, 3 or 4');
  return value;
};
const traitRef = (principalText) => {
  const [address, name] = principalText.split('.');
  return Cl.contractPrincipal(address, name);
};

// The agent key that signs for `account`: the account's name carries its agent's first and
// last five characters, and the key must be one this service holds.
function agentFor(account, config) {
  const match = AGENT_ACCOUNT_NAME.exec(account.split('.')[1]);
  if (!match) throw new ActionError(`arguments.account_contract ${account} is not named as an agent account (aibtc-acct-...)`);
  const agent = config.agents.find((address) => address.startsWith(match[3]) && address.endsWith(match[4]));
  if (!agent) {
    throw new ActionError(`this service holds no agent key for ${account}; add the agent's key to SIGNER_AGENT_KEYS`, 403);
  }
  return agent;
}

export const ACTIONS = {
  // <account>.vote-on-action-proposal(votingContract, proposalId, vote), signed by the account's
  // agent: the account holds the voting power, the agent may act through it.
  vote: (args, config) => {
    const account = contract(args, 'account_contract');
    return {
      signer: agentFor(account, config),
      kind: 'call',
      contractId: account,
      functionName: FUNCTIONS.accountVote.name,
      functionArgs: [traitRef(contract(args, 'voting_contract')), Cl.uint(uint(args, 'proposal_id')), Cl.bool(bool(args, 'vote'))],
      postConditionMode: PostConditionMode.Deny, // a vote moves no asset
    };
  },
  // <voting>.conclude-action-proposal(proposalId, action), sent directly: concluding is open to
  // anyone, so the service's own key does it and no agent key or token balance is needed. The
  // conclusion moves the bond (to the creator or the treasury) and may pay the reward from the
  // treasury, amounts and recipients decided on chain: Allow mode, no post-conditions.
  conclude: (args) => ({
    signer: 'deployer',
    kind: 'call',
    contractId: contract(args, 'voting_contract'),
    functionName: FUNCTIONS.votingConclude.name,
    functionArgs: [Cl.uint(uint(args, 'proposal_id')), traitRef(contract(args, 'action_contract'))],
    postConditionMode: PostConditionMode.Allow,
  }),
  // One contract of a DAO's generated set, deployed by the service's key.
  deploy_contract: (args) => {
    const name = field(args, 'contract_name', (v) => typeof v === 'string' && CONTRACT_NAME.test(v), 'a contract name (a letter, then letters, digits, - or _)');
    return { signer: 'deployer', kind: 'deploy', contractName: name, codeBody: source(args), clarityVersion: clarityVersion(args) };
  },
  // An agent account under its conventional name; the source must bind the owner and the agent.
  deploy_agent_account: (args) => {
    const owner = principal(args, 'owner_address');
    const agent = principal(args, 'agent_address');
    const code = source(args);
    for (const [role, address] of [['owner', owner], ['agent', agent]]) {
      if (!code.includes(`'${address}`)) throw new ActionError(`arguments.source does not name the ${role} ${address}`);
    }
    return { signer: 'deployer', kind: 'deploy', contractName: agentAccountName(owner, agent), codeBody: code, clarityVersion: clarityVersion(args) };
  },
};

export function transactionFor(action, args, config) {
  const build = ACTIONS[action];
  if (!build) throw new ActionError(`unknown action ${JSON.stringify(action)}; one of ${Object.keys(ACTIONS).join(', ')}`);
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new ActionError('arguments must be an object');
  return build(args, config);
}
