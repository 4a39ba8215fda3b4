"""What an export could not carry over exactly: each conveyor.yml feature without an AWS
equivalent, with what the template does instead. `conveyor export` prints them on stderr — never
dropped silently.

    notes = Notes()
    notes.add("environments.production.alarms.fast.period", "a 1-second period",
              "60 s (CloudWatch takes 10, 20, 30 or a multiple of 60)")
    str(notes.items[0])
    # -> 'environments.production.alarms.fast.period: a 1-second period → 60 s (CloudWatch takes …)'
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Note:
    source: str  # the conveyor.yml key path
    what: str  # what has no AWS equivalent
    instead: str  # what the template does instead ("left out: …" when nothing)

    def __str__(self) -> str:
        return f"{self.source}: {self.what} → {self.instead}"


@dataclass
class Notes:
    items: list[Note] = field(default_factory=list)

    def add(self, source: str, what: str, instead: str) -> None:
        note = Note(source, what, instead)
        if note not in self.items:
            self.items.append(note)
