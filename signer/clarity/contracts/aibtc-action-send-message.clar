;; An action a proposal can run: it prints the message given as the proposal's parameters.

;; /g/.aibtc-dao-traits.action/dao_trait_action
(impl-trait .aibtc-dao-traits.action)

(define-constant ERR_INVALID_PARAMETERS (err u2001))
(define-constant ERR_NOT_DAO_OR_EXTENSION (err u2000))

(define-public (run (parameters (buff 2048)))
  (let ((message (unwrap! (from-consensus-buff? (string-ascii 1024) parameters) ERR_INVALID_PARAMETERS)))
    ;; /g/.aibtc-base-dao/dao_contract_base
    (asserts! (contract-call? .aibtc-base-dao is-extension contract-caller) ERR_NOT_DAO_OR_EXTENSION)
    (print {
      notification: "aibtc-action-send-message/run",
      payload: { message: message, contractCaller: contract-caller, txSender: tx-sender },
    })
    (ok true)
  )
)

(define-public (check-parameters (parameters (buff 2048)))
  (begin
    (asserts! (is-some (from-consensus-buff? (string-ascii 1024) parameters)) ERR_INVALID_PARAMETERS)
    (ok true)
  )
)
