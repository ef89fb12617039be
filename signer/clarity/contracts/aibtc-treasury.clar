;; The DAO treasury: holds DAO tokens; only an enabled extension may pay from it.
;; (aibtc's withdraw-ft takes the token as a trait; the signer never calls it.)

(define-constant ERR_NOT_DAO_OR_EXTENSION (err u1900))

;; /g/.aibtc-base-dao/dao_contract_base
(define-private (is-extension) (contract-call? .aibtc-base-dao is-extension contract-caller))

(define-public (withdraw-ft (amount uint) (recipient principal))
  (begin
    (asserts! (is-extension) ERR_NOT_DAO_OR_EXTENSION)
    (print {
      notification: "aibtc-treasury/withdraw-ft",
      payload: { amount: amount, recipient: recipient, contractCaller: contract-caller, txSender: tx-sender },
    })
    ;; /g/.aibtc-faktory/dao_contract_token
    (as-contract (contract-call? .aibtc-faktory transfer amount tx-sender recipient none))
  )
)
