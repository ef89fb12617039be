"""The aibtc contracts' interface, as facts: names, notifications, function signatures.

Read from the contract versions the seed's backend targets (aibtcdev-daos: `contracts/`,
`utilities/contract-types.ts`, `utilities/contract-deployment-order.ts`; agent-tools-ts for
the agent-account naming). Every parse or build of a contract call in `tasks/` and `signer/`
goes through these modules:

- `naming`: how deployed contracts are named (the template prefix replaced by the DAO's
  symbol, agent accounts named after their owner and agent).
- `payloads`: the print notifications and their payload fields, with Clarity types.
- `notifications`: reading a print (either Chainhook shape, or the Stacks API's hex) as one
  of those notifications.
- `parameters`: a proposal's `parameters` read as its text, title and tags.
- `functions`: the public functions this deployment calls, with their argument types.
"""
