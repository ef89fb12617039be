;; The two traits of the aibtc DAO interface the signer calls through: an action a proposal
;; runs, and the voting extension an agent account forwards to. Same signatures as aibtc's.

(define-trait action (
  (run ((buff 2048)) (response bool uint))
  (check-parameters ((buff 2048)) (response bool uint))
))

(define-trait action-proposal-voting (
  (create-action-proposal (<action> (buff 2048) (optional (string-ascii 1024))) (response bool uint))
  (vote-on-action-proposal (uint bool) (response bool uint))
  (veto-action-proposal (uint) (response bool uint))
  (conclude-action-proposal (uint <action>) (response bool uint))
))
