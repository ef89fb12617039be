;; The DAO token: balances, a fixed supply minted to the deployer, SIP-010's transfer and
;; read-only functions (the voting extension reads balances at the proposal's block).

(define-fungible-token dao-token)

(define-constant ERR_NOT_SENDER (err u4))

(define-public (transfer (amount uint) (sender principal) (recipient principal) (memo (optional (buff 34))))
  (begin
    ;; the owner of the tokens, directly or as the contract that holds them
    (asserts! (or (is-eq tx-sender sender) (is-eq contract-caller sender)) ERR_NOT_SENDER)
    (try! (ft-transfer? dao-token amount sender recipient))
    (match memo note (print note) 0x)
    (ok true)
  )
)

(define-read-only (get-name) (ok "DAO token"))
(define-read-only (get-symbol) (ok "AIBTC"))
(define-read-only (get-decimals) (ok u8))
(define-read-only (get-balance (who principal)) (ok (ft-get-balance dao-token who)))
(define-read-only (get-total-supply) (ok (ft-get-supply dao-token)))
(define-read-only (get-token-uri) (ok none))

(ft-mint? dao-token u100000000000000000 tx-sender)
