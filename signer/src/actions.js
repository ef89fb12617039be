// The actions the job queue asks for, as Stacks contract calls (see docs/transaction-service.openapi.json).
import { Cl } from '@stacks/transactions';

export class ActionError extends Error {
  constructor(message, status = 422) {
    super(message);
    this.status = status;
  }
}

const PRINCIPAL = /^S[PMTN][0-9A-HJKMNP-TV-Z]{38,40}$/;
const CONTRACT = /^S[PMTN][0-9A-HJKMNP-TV-Z]{38,40}\.[a-zA-Z][a-zA-Z0-9_-]{0,127}$/;

function field(args, name, check, what) {
  const value = args[name];
  if (!check(value)) throw new ActionError(`arguments.${name} must be ${what}`);
  return value;
}

const contract = (args, name) => field(args, name, (v) => typeof v === 'string' && CONTRACT.test(v), 'a contract principal ADDRESS.name');
const principal = (args, name) => field(args, name, (v) => typeof v === 'string' && PRINCIPAL.test(v), 'a Stacks address');
const uint = (args, name) =>
  BigInt(field(args, name, (v) => (Number.isSafeInteger(v) && v >= 0) || (typeof v === 'string' && /^[0-9]{1,39}$/.test(v)), 'a non-negative integer'));
const bool = (args, name) => field(args, name, (v) => typeof v === 'boolean', 'true or false');
const text = (args, name, max) => field(args, name, (v) => typeof v === 'string' && v.length <= max, `a string of at most ${max} characters`);

function factory(config, name, env) {
  if (!config[name]) throw new ActionError(`this service has no ${env} configured`, 501);
  return config[name];
}

// Each builder returns {contractId, functionName, functionArgs}; a bad argument is a 422.
export const ACTIONS = {
  vote: (args, config) => {
    const voter = principal(args, 'voter');
    if (voter !== config.address) throw new ActionError(`this service signs for ${config.address}, not ${voter}`, 403);
    return {
      contractId: contract(args, 'dao_contract'),
      functionName: 'vote-on-action-proposal',
      functionArgs: [Cl.uint(uint(args, 'proposal_id')), Cl.bool(bool(args, 'approve'))],
    };
  },
  conclude: (args) => ({
    contractId: contract(args, 'dao_contract'),
    functionName: 'conclude-action-proposal',
    functionArgs: [Cl.uint(uint(args, 'proposal_id'))],
  }),
  deploy_dao: (args, config) => ({
    contractId: factory(config, 'daoFactory', 'SIGNER_DAO_FACTORY'),
    functionName: 'create-dao',
    functionArgs: [
      Cl.stringAscii(field(args, 'token_symbol', (v) => typeof v === 'string' && /^[A-Z][A-Z0-9]{1,9}$/.test(v), '2-10 of A-Z0-9')),
      Cl.stringUtf8(text(args, 'token_name', 64)),
      Cl.stringUtf8(text(args, 'token_description', 2000)),
      Cl.uint(uint(args, 'token_max_supply')),
      Cl.uint(uint(args, 'token_decimals')),
      Cl.principal(principal(args, 'origin_address')),
      Cl.stringUtf8(text(args, 'mission', 4000)),
    ],
  }),
  deploy_agent_account: (args, config) => ({
    contractId: factory(config, 'agentAccountFactory', 'SIGNER_AGENT_ACCOUNT_FACTORY'),
    functionName: 'create-agent-account',
    functionArgs: [
      Cl.principal(principal(args, 'owner_address')),
      Cl.principal(contract(args, 'dao_token_contract')),
      Cl.principal(contract(args, 'dao_dex_contract')),
    ],
  }),
};

export function contractCallFor(action, args, config) {
  const build = ACTIONS[action];
  if (!build) throw new ActionError(`unknown action ${JSON.stringify(action)}; one of ${Object.keys(ACTIONS).join(', ')}`);
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new ActionError('arguments must be an object');
  return build(args, config);
}
