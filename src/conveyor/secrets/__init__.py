"""Secrets: an encrypted store in the data directory that buildspec `secrets-manager` and
`parameter-store` references resolve against (`store`), and the masking that keeps every secret
value out of logs and API responses (`masking`)."""
