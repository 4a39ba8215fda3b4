"""The credentials a target reads from the secret store, read at each send (a rotated secret is
used from the next delivery on) and kept out of everything the target says.

    creds = Credentials(secrets)              # secrets: name -> value (SecretStore.resolve_reference)
    key = creds.get("hooks/conveyor", "webhook secret")
    raise DeliveryError(creds.mask(f"..."))   # every value read so far becomes ***

A secret that cannot be read ends the delivery at once (retry=False): retrying cannot create it;
once it is set, `conveyor notify redeliver ID` sends again. The message names the secret, never
its value.
"""

from __future__ import annotations

from typing import Callable

from conveyor.notify.target import DeliveryError
from conveyor.secrets.masking import Masker, default_masker


class Credentials:
    def __init__(self, secrets: Callable[[str], str]):
        self._secrets = secrets
        self._masker = Masker()

    def get(self, name: str, what: str) -> str:
        try:
            value = self._secrets(name)
        except Exception as exc:  # the store's NotFound/UserError, or a broken store: all say the same
            reason = self.mask(str(exc)) or type(exc).__name__
            raise DeliveryError(f"cannot read {what} from secret '{name}': {reason}", retry=False) from None
        if not isinstance(value, str) or not value:
            raise DeliveryError(f"secret '{name}' ({what}) is empty", retry=False)
        self._masker.add(value)
        return value

    def mask(self, text: str) -> str:
        """`text` with every value this target read, and every value the process knows, hidden."""
        return default_masker().mask(self._masker.mask(text))

    def error(self, exc: DeliveryError) -> DeliveryError:
        """`exc` with its message masked (same retry decision)."""
        return DeliveryError(self.mask(str(exc)), retry=exc.retry)
