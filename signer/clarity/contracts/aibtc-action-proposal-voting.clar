;; The action-proposal voting extension: proposals to run an action, voted with the DAO token
;; held at the proposal's creation block, concluded after the voting period plus a delay.
;; Public functions, traits, error codes and print notifications (names and payload keys) are
;; those of aibtc's extension; timing uses its testnet values (3 burn blocks each).

;; /g/.aibtc-dao-traits.action-proposal-voting/dao_trait_action_proposal_voting
(impl-trait .aibtc-dao-traits.action-proposal-voting)
;; /g/.aibtc-dao-traits.action/dao_trait_action
(use-trait action-trait .aibtc-dao-traits.action)

(define-constant SELF (as-contract tx-sender))
(define-constant DEPLOYED_BITCOIN_BLOCK burn-block-height)
(define-constant DEPLOYED_STACKS_BLOCK stacks-block-height)

(define-constant ERR_FETCHING_TOKEN_DATA (err u1301))
(define-constant ERR_INSUFFICIENT_BALANCE (err u1302))
(define-constant ERR_PROPOSAL_NOT_FOUND (err u1303))
(define-constant ERR_PROPOSAL_VOTING_ACTIVE (err u1304))
(define-constant ERR_PROPOSAL_EXECUTION_DELAY (err u1305))
(define-constant ERR_PROPOSAL_RATE_LIMIT (err u1306))
(define-constant ERR_SAVING_PROPOSAL (err u1307))
(define-constant ERR_PROPOSAL_ALREADY_CONCLUDED (err u1308))
(define-constant ERR_RETRIEVING_START_BLOCK_HASH (err u1309))
(define-constant ERR_VOTE_TOO_SOON (err u1310))
(define-constant ERR_VOTE_TOO_LATE (err u1311))
(define-constant ERR_ALREADY_VOTED (err u1312))
(define-constant ERR_INVALID_ACTION (err u1313))

(define-constant VOTING_QUORUM u15)
(define-constant VOTING_THRESHOLD u66)
(define-constant VOTING_BOND u25000000000)
(define-constant VOTING_REWARD u100000000000)
(define-constant VOTING_DELAY u3)
(define-constant VOTING_PERIOD u3)
;; /g/.aibtc-treasury/dao_contract_treasury
(define-constant VOTING_TREASURY .aibtc-treasury)

(define-data-var proposalCount uint u0)
(define-data-var lastProposalBitcoinBlock uint DEPLOYED_BITCOIN_BLOCK)

(define-map Proposals uint {
  action: principal,
  parameters: (buff 2048),
  bond: uint,
  creator: principal,
  liquidTokens: uint,
  memo: (optional (string-ascii 1024)),
  createdBtc: uint,
  createdStx: uint,
  votesFor: uint,
  votesAgainst: uint,
  vetoVotes: uint,
  concluded: bool,
})

(define-map VoteRecords { proposalId: uint, voter: principal } { vote: bool, amount: uint })
(define-map VetoVoteRecords { proposalId: uint, voter: principal } uint)

(define-public (callback (sender principal) (memo (buff 34))) (ok true))

(define-public (create-action-proposal
    (action <action-trait>)
    (parameters (buff 2048))
    (memo (optional (string-ascii 1024)))
  )
  (let (
      (proposalId (+ (var-get proposalCount) u1))
      (createdStx (- stacks-block-height u1))
      (createdBtc burn-block-height)
      (liquidTokens (try! (get-liquid-supply createdStx)))
      (voteStart (+ createdBtc VOTING_DELAY))
      (voteEnd (+ voteStart VOTING_PERIOD))
      (execStart (+ voteEnd VOTING_DELAY))
      (execEnd (+ execStart VOTING_PERIOD))
    )
    (asserts! (> liquidTokens u0) ERR_FETCHING_TOKEN_DATA)
    (asserts! (is-action-valid action) ERR_INVALID_ACTION)
    (try! (contract-call? action check-parameters parameters))
    (asserts! (> createdBtc (var-get lastProposalBitcoinBlock)) ERR_PROPOSAL_RATE_LIMIT)
    (print {
      notification: "aibtc-action-proposal-voting/create-action-proposal",
      payload: {
        contractCaller: contract-caller,
        txSender: tx-sender,
        action: (contract-of action),
        parameters: parameters,
        bond: VOTING_BOND,
        caller: contract-caller,
        creator: contract-caller,
        liquidTokens: liquidTokens,
        memo: memo,
        createdBtc: createdBtc,
        createdStx: createdStx,
        voteStart: voteStart,
        voteEnd: voteEnd,
        execStart: execStart,
        execEnd: execEnd,
        proposalId: proposalId,
        votingPeriod: VOTING_PERIOD,
        votingQuorum: VOTING_QUORUM,
        votingThreshold: VOTING_THRESHOLD,
        votingDelay: VOTING_DELAY,
        votingReward: VOTING_REWARD,
      },
    })
    (asserts! (map-insert Proposals proposalId {
        action: (contract-of action), parameters: parameters, bond: VOTING_BOND, creator: contract-caller,
        liquidTokens: liquidTokens, memo: memo, createdBtc: createdBtc, createdStx: createdStx,
        votesFor: u0, votesAgainst: u0, vetoVotes: u0, concluded: false,
      })
      ERR_SAVING_PROPOSAL
    )
    (var-set proposalCount proposalId)
    (var-set lastProposalBitcoinBlock createdBtc)
    ;; the creator's bond, held here until the conclusion
    ;; /g/.aibtc-faktory/dao_contract_token
    (contract-call? .aibtc-faktory transfer VOTING_BOND contract-caller SELF none)
  )
)

(define-public (vote-on-action-proposal (proposalId uint) (vote bool))
  (let (
      (proposal (unwrap! (map-get? Proposals proposalId) ERR_PROPOSAL_NOT_FOUND))
      (voteStart (+ (get createdBtc proposal) VOTING_DELAY))
      (voteEnd (+ voteStart VOTING_PERIOD))
      (voteAmount (try! (balance-at (get createdStx proposal) contract-caller)))
      (previous (map-get? VoteRecords { proposalId: proposalId, voter: contract-caller }))
      (cleared (match previous record
        (if (get vote record)
          (merge proposal { votesFor: (- (get votesFor proposal) (get amount record)) })
          (merge proposal { votesAgainst: (- (get votesAgainst proposal) (get amount record)) }))
        proposal))
    )
    ;; voting power is the balance when the proposal was created
    (asserts! (> voteAmount u0) ERR_INSUFFICIENT_BALANCE)
    (asserts! (not (get concluded proposal)) ERR_PROPOSAL_ALREADY_CONCLUDED)
    (asserts! (>= burn-block-height voteStart) ERR_VOTE_TOO_SOON)
    (asserts! (< burn-block-height voteEnd) ERR_VOTE_TOO_LATE)
    (asserts! (match previous record (not (is-eq (get vote record) vote)) true) ERR_ALREADY_VOTED)
    (print {
      notification: "aibtc-action-proposal-voting/vote-on-action-proposal",
      payload: {
        contractCaller: contract-caller,
        txSender: tx-sender,
        voter: contract-caller,
        proposalId: proposalId,
        amount: voteAmount,
        vote: vote,
      },
    })
    (map-set Proposals proposalId
      (if vote
        (merge cleared { votesFor: (+ (get votesFor cleared) voteAmount) })
        (merge cleared { votesAgainst: (+ (get votesAgainst cleared) voteAmount) })))
    (ok (map-set VoteRecords { proposalId: proposalId, voter: contract-caller } { vote: vote, amount: voteAmount }))
  )
)

(define-public (veto-action-proposal (proposalId uint))
  (let (
      (proposal (unwrap! (map-get? Proposals proposalId) ERR_PROPOSAL_NOT_FOUND))
      (voteEnd (+ (get createdBtc proposal) VOTING_DELAY VOTING_PERIOD))
      (vetoAmount (try! (balance-at (get createdStx proposal) contract-caller)))
    )
    (asserts! (> vetoAmount u0) ERR_INSUFFICIENT_BALANCE)
    (asserts! (not (get concluded proposal)) ERR_PROPOSAL_ALREADY_CONCLUDED)
    (asserts! (>= burn-block-height voteEnd) ERR_VOTE_TOO_SOON)
    (asserts! (< burn-block-height (+ voteEnd VOTING_DELAY)) ERR_VOTE_TOO_LATE)
    (asserts! (map-insert VetoVoteRecords { proposalId: proposalId, voter: contract-caller } vetoAmount) ERR_ALREADY_VOTED)
    (print {
      notification: "aibtc-action-proposal-voting/veto-action-proposal",
      payload: {
        contractCaller: contract-caller,
        txSender: tx-sender,
        vetoer: contract-caller,
        proposalId: proposalId,
        amount: vetoAmount,
      },
    })
    (ok (map-set Proposals proposalId (merge proposal { vetoVotes: (+ (get vetoVotes proposal) vetoAmount) })))
  )
)

(define-public (conclude-action-proposal (proposalId uint) (action <action-trait>))
  (let (
      (proposal (unwrap! (map-get? Proposals proposalId) ERR_PROPOSAL_NOT_FOUND))
      (voteEnd (+ (get createdBtc proposal) VOTING_DELAY VOTING_PERIOD))
      (execStart (+ voteEnd VOTING_DELAY))
      (execEnd (+ execStart VOTING_PERIOD))
      (liquidTokens (get liquidTokens proposal))
      (votesFor (get votesFor proposal))
      (votesAgainst (get votesAgainst proposal))
      (vetoVotes (get vetoVotes proposal))
      (total (+ votesFor votesAgainst))
      (metQuorum (and (> total u0) (>= (/ (* total u100) liquidTokens) VOTING_QUORUM)))
      (metThreshold (and (> total u0) (>= (/ (* votesFor u100) total) VOTING_THRESHOLD)))
      (vetoMetQuorum (and (> vetoVotes u0) (>= (/ (* vetoVotes u100) liquidTokens) VOTING_QUORUM)))
      (vetoExceedsYes (> vetoVotes votesFor))
      (vetoed (and vetoMetQuorum vetoExceedsYes))
      (passed (and metQuorum metThreshold (not vetoed)))
      (expired (>= burn-block-height execEnd))
      (execute (and passed (not expired) (is-action-valid action)))
    )
    (asserts! (not (get concluded proposal)) ERR_PROPOSAL_ALREADY_CONCLUDED)
    (asserts! (>= burn-block-height voteEnd) ERR_PROPOSAL_VOTING_ACTIVE)
    (asserts! (>= burn-block-height execStart) ERR_PROPOSAL_EXECUTION_DELAY)
    (asserts! (is-eq (get action proposal) (contract-of action)) ERR_INVALID_ACTION)
    (print {
      notification: "aibtc-action-proposal-voting/conclude-action-proposal",
      payload: {
        contractCaller: contract-caller,
        txSender: tx-sender,
        action: (contract-of action),
        parameters: (get parameters proposal),
        bond: (get bond proposal),
        creator: (get creator proposal),
        liquidTokens: liquidTokens,
        memo: (get memo proposal),
        proposalId: proposalId,
        votesFor: votesFor,
        votesAgainst: votesAgainst,
        vetoVotes: vetoVotes,
        metQuorum: metQuorum,
        metThreshold: metThreshold,
        vetoMetQuorum: vetoMetQuorum,
        vetoExceedsYes: vetoExceedsYes,
        vetoed: vetoed,
        passed: passed,
        expired: expired,
        executed: execute,
        status: (+ u1 (if passed u8 u0) (if execute u16 u0)),
      },
    })
    (map-set Proposals proposalId (merge proposal { concluded: true }))
    ;; the bond returns to the creator when the proposal passed, else it goes to the treasury
    ;; /g/.aibtc-faktory/dao_contract_token
    (try! (as-contract (contract-call? .aibtc-faktory transfer (get bond proposal) SELF
      (if passed (get creator proposal) VOTING_TREASURY) none)))
    (ok (if execute
      (match (contract-call? action run (get parameters proposal))
        ran (begin
          ;; /g/.aibtc-treasury/dao_contract_treasury
          (try! (as-contract (contract-call? .aibtc-treasury withdraw-ft VOTING_REWARD (get creator proposal))))
          true)
        failure (begin
          (print {
            notification: "aibtc-action-proposal-voting/conclude-action-proposal",
            payload: { executionError: failure },
          })
          false))
      false))
  )
)

(define-read-only (get-proposal (proposalId uint))
  (map-get? Proposals proposalId)
)

(define-read-only (get-vote-record (proposalId uint) (voter principal))
  (map-get? VoteRecords { proposalId: proposalId, voter: voter })
)

(define-read-only (get-liquid-supply (blockHeight uint))
  (let (
      (blockHash (unwrap! (get-stacks-block-info? id-header-hash blockHeight) ERR_RETRIEVING_START_BLOCK_HASH))
      ;; /g/.aibtc-faktory/dao_contract_token
      (totalSupply (unwrap! (at-block blockHash (contract-call? .aibtc-faktory get-total-supply)) ERR_FETCHING_TOKEN_DATA))
      ;; /g/.aibtc-faktory/dao_contract_token
      (treasury (unwrap! (at-block blockHash (contract-call? .aibtc-faktory get-balance VOTING_TREASURY)) ERR_FETCHING_TOKEN_DATA))
    )
    (ok (- totalSupply treasury))
  )
)

(define-private (balance-at (blockHeight uint) (who principal))
  (let ((blockHash (unwrap! (get-stacks-block-info? id-header-hash blockHeight) ERR_RETRIEVING_START_BLOCK_HASH)))
    ;; /g/.aibtc-faktory/dao_contract_token
    (ok (unwrap! (at-block blockHash (contract-call? .aibtc-faktory get-balance who)) ERR_FETCHING_TOKEN_DATA))
  )
)

(define-private (is-action-valid (action <action-trait>))
  (and
    ;; /g/.aibtc-base-dao/dao_contract_base
    (contract-call? .aibtc-base-dao is-extension SELF)
    ;; /g/.aibtc-base-dao/dao_contract_base
    (contract-call? .aibtc-base-dao is-extension (contract-of action))
  )
)
