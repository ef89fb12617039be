;; The DAO's registry of enabled extensions and actions (the part the voting extension reads).

(define-constant ERR_UNAUTHORIZED (err u1200))
(define-constant DEPLOYER tx-sender)

(define-map Extensions principal bool)

(define-public (set-extension (extension principal) (enabled bool))
  (begin
    (asserts! (or (is-eq tx-sender DEPLOYER) (is-eq tx-sender (as-contract tx-sender))) ERR_UNAUTHORIZED)
    (print {
      notification: "aibtc-base-dao/set-extension",
      payload: { enabled: enabled, extension: extension },
    })
    (ok (map-set Extensions extension enabled))
  )
)

(define-read-only (is-extension (extension principal))
  (default-to false (map-get? Extensions extension))
)
