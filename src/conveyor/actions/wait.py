"""The `Wait` action: takes `seconds` and does nothing else (0 makes it a no-op step).
Useful as a bake time between stages, and as the unit of the engine benchmark."""

from __future__ import annotations

from conveyor.actions.base import ActionContext, ActionFailed, ActionResult


class Wait:
    def run(self, ctx: ActionContext) -> ActionResult:
        seconds = float(ctx.configuration.get("seconds") or 0)
        if seconds and ctx.cancel.wait(seconds):
            raise ActionFailed("cancelled")
        return ActionResult(summary=f"waited {seconds:g}s" if seconds else "")

    def cleanup(self, run_dir) -> None:
        pass
