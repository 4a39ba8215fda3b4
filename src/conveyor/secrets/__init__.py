"""Secrets: an encrypted store in the data directory that buildspec `secrets-manager` and
`parameter-store` references resolve against (`store`), the masking that keeps every secret
value and its common encodings out of logs and API responses (`masking`), and masking of output
that arrives in pieces, across the pieces' boundaries (`stream`)."""
