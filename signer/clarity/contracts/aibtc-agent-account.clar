;; An agent account: a contract between an owner and an agent. The owner, and the agent while
;; permitted, act on DAO proposals through it; its token balance is the voting power. The
;; proposal functions, approval functions and notifications are those of aibtc's account; the
;; asset and trading functions are left out (the signer does not call them).

;; /g/.aibtc-dao-traits.action/dao_trait_action
(use-trait action-trait .aibtc-dao-traits.action)
;; /g/.aibtc-dao-traits.action-proposal-voting/dao_trait_action_proposal_voting
(use-trait action-proposal-voting-trait .aibtc-dao-traits.action-proposal-voting)

(define-constant SELF (as-contract tx-sender))
;; /g/'STYXVW78YXDMRFY35R8S9Q729FP0WS25ZP0Q8KPX/account_owner
(define-constant ACCOUNT_OWNER 'STYXVW78YXDMRFY35R8S9Q729FP0WS25ZP0Q8KPX)
;; /g/'ST10FKYCX300869VRZG7PHRZW4WV731Q8PNKH30YZ/account_agent
(define-constant ACCOUNT_AGENT 'ST10FKYCX300869VRZG7PHRZW4WV731Q8PNKH30YZ)

(define-constant ERR_CALLER_NOT_OWNER (err u1100))
(define-constant ERR_CONTRACT_NOT_APPROVED (err u1101))
(define-constant ERR_OPERATION_NOT_ALLOWED (err u1102))
(define-constant ERR_INVALID_APPROVAL_TYPE (err u1103))

(define-constant APPROVED_CONTRACT_VOTING u1)
(define-constant APPROVED_CONTRACT_SWAP u2)
(define-constant APPROVED_CONTRACT_TOKEN u3)

(define-map ApprovedContracts { contract: principal, type: uint } bool)
(define-data-var agentCanUseProposals bool true)

(define-public (create-action-proposal
    (votingContract <action-proposal-voting-trait>)
    (action <action-trait>)
    (parameters (buff 2048))
    (memo (optional (string-ascii 1024)))
  )
  (begin
    (asserts! (use-proposals-allowed) ERR_OPERATION_NOT_ALLOWED)
    (asserts! (is-approved-contract (contract-of votingContract) APPROVED_CONTRACT_VOTING) ERR_CONTRACT_NOT_APPROVED)
    (print {
      notification: "aibtc-agent-account/create-action-proposal",
      payload: {
        proposalContract: (contract-of votingContract),
        action: (contract-of action),
        parameters: parameters,
        sender: tx-sender,
        caller: contract-caller,
      },
    })
    (as-contract (contract-call? votingContract create-action-proposal action parameters memo))
  )
)

(define-public (vote-on-action-proposal
    (votingContract <action-proposal-voting-trait>)
    (proposalId uint)
    (vote bool)
  )
  (begin
    (asserts! (use-proposals-allowed) ERR_OPERATION_NOT_ALLOWED)
    (asserts! (is-approved-contract (contract-of votingContract) APPROVED_CONTRACT_VOTING) ERR_CONTRACT_NOT_APPROVED)
    (print {
      notification: "aibtc-agent-account/vote-on-action-proposal",
      payload: {
        proposalContract: (contract-of votingContract),
        proposalId: proposalId,
        vote: vote,
        sender: tx-sender,
        caller: contract-caller,
      },
    })
    (as-contract (contract-call? votingContract vote-on-action-proposal proposalId vote))
  )
)

(define-public (veto-action-proposal
    (votingContract <action-proposal-voting-trait>)
    (proposalId uint)
  )
  (begin
    (asserts! (use-proposals-allowed) ERR_OPERATION_NOT_ALLOWED)
    (asserts! (is-approved-contract (contract-of votingContract) APPROVED_CONTRACT_VOTING) ERR_CONTRACT_NOT_APPROVED)
    (print {
      notification: "aibtc-agent-account/veto-action-proposal",
      payload: {
        proposalContract: (contract-of votingContract),
        proposalId: proposalId,
        sender: tx-sender,
        caller: contract-caller,
      },
    })
    (as-contract (contract-call? votingContract veto-action-proposal proposalId))
  )
)

(define-public (conclude-action-proposal
    (votingContract <action-proposal-voting-trait>)
    (proposalId uint)
    (action <action-trait>)
  )
  (begin
    (asserts! (use-proposals-allowed) ERR_OPERATION_NOT_ALLOWED)
    (asserts! (is-approved-contract (contract-of votingContract) APPROVED_CONTRACT_VOTING) ERR_CONTRACT_NOT_APPROVED)
    (print {
      notification: "aibtc-agent-account/conclude-action-proposal",
      payload: {
        proposalContract: (contract-of votingContract),
        proposalId: proposalId,
        action: (contract-of action),
        sender: tx-sender,
        caller: contract-caller,
      },
    })
    (as-contract (contract-call? votingContract conclude-action-proposal proposalId action))
  )
)

(define-public (approve-contract (contract principal) (type uint))
  (begin
    (asserts! (is-owner) ERR_CALLER_NOT_OWNER)
    (asserts! (is-valid-type type) ERR_INVALID_APPROVAL_TYPE)
    (print {
      notification: "aibtc-agent-account/approve-contract",
      payload: { contract: contract, type: type, approved: true, sender: tx-sender, caller: contract-caller },
    })
    (ok (map-set ApprovedContracts { contract: contract, type: type } true))
  )
)

(define-public (revoke-contract (contract principal) (type uint))
  (begin
    (asserts! (is-owner) ERR_CALLER_NOT_OWNER)
    (asserts! (is-valid-type type) ERR_INVALID_APPROVAL_TYPE)
    (print {
      notification: "aibtc-agent-account/revoke-contract",
      payload: { contract: contract, type: type, approved: false, sender: tx-sender, caller: contract-caller },
    })
    (ok (map-set ApprovedContracts { contract: contract, type: type } false))
  )
)

(define-public (set-agent-can-use-proposals (canUseProposals bool))
  (begin
    (asserts! (is-owner) ERR_CALLER_NOT_OWNER)
    (print {
      notification: "aibtc-agent-account/set-agent-can-use-proposals",
      payload: { canUseProposals: canUseProposals, sender: tx-sender, caller: contract-caller },
    })
    (ok (var-set agentCanUseProposals canUseProposals))
  )
)

(define-read-only (is-approved-contract (contract principal) (type uint))
  (default-to false (map-get? ApprovedContracts { contract: contract, type: type }))
)

(define-read-only (get-configuration)
  { account: SELF, agent: ACCOUNT_AGENT, owner: ACCOUNT_OWNER }
)

(define-private (is-owner) (is-eq contract-caller ACCOUNT_OWNER))
(define-private (is-agent) (is-eq contract-caller ACCOUNT_AGENT))
(define-private (is-valid-type (type uint))
  (or (is-eq type APPROVED_CONTRACT_VOTING) (is-eq type APPROVED_CONTRACT_SWAP) (is-eq type APPROVED_CONTRACT_TOKEN))
)
(define-private (use-proposals-allowed)
  (or (is-owner) (and (is-agent) (var-get agentCanUseProposals)))
)

(print {
  notification: "aibtc-agent-account/user-agent-account-created",
  payload: { config: (get-configuration), approvalTypes: { proposalVoting: APPROVED_CONTRACT_VOTING, swap: APPROVED_CONTRACT_SWAP, token: APPROVED_CONTRACT_TOKEN } },
})
