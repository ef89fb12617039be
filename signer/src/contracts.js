// The aibtc contract facts the signer builds calls from. Mirrors tasks/aibtc/functions.py and
// tasks/aibtc/naming.py (the Python side builds the same arguments; keep the two equal).
export const STANDARD_PRINCIPAL = /^S[PMTN][0-9A-HJKMNP-TV-Z]{38,40}$/;
export const CONTRACT_PRINCIPAL = /^S[PMTN][0-9A-HJKMNP-TV-Z]{38,40}\.[a-zA-Z][a-zA-Z0-9_-]{0,127}$/;
export const CONTRACT_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,127}$/;
// aibtc-acct-<owner first 5>-<owner last 5>-<agent first 5>-<agent last 5>
export const AGENT_ACCOUNT_NAME = /^aibtc-acct-([0-9A-Z]{5})-([0-9A-Z]{5})-([0-9A-Z]{5})-([0-9A-Z]{5})$/;

export function agentAccountName(owner, agent) {
  return `aibtc-acct-${owner.slice(0, 5)}-${owner.slice(-5)}-${agent.slice(0, 5)}-${agent.slice(-5)}`;
}

// Public functions and their argument types, in order (aibtc-agent-account.clar and
// aibtc-action-proposal-voting.clar).
export const FUNCTIONS = {
  accountVote: { name: 'vote-on-action-proposal', args: ['trait_reference', 'uint128', 'bool'] },
  accountConclude: { name: 'conclude-action-proposal', args: ['trait_reference', 'uint128', 'trait_reference'] },
  votingConclude: { name: 'conclude-action-proposal', args: ['uint128', 'trait_reference'] },
};
