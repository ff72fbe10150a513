"""Early stopping on the validation loss and the forgetting guard on a held-out set."""

from __future__ import annotations

from dataclasses import dataclass

from brie.words import plural


@dataclass
class Monitor:
    """Early stopping on validation loss and the forgetting guard; saved in every checkpoint."""

    patience: int | None
    min_delta: float
    guard_threshold: float
    guard_action: str
    best_val: float | None = None
    bad_evals: int = 0
    guard_base: float | None = None
    guard_warned: bool = False

    def state(self) -> dict:
        return {"best_val": self.best_val, "bad_evals": self.bad_evals,
                "guard_base": self.guard_base, "guard_warned": self.guard_warned}

    def load(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    def after_eval(self, step: int, val_loss: float | None, guard_loss: float | None) -> tuple[str | None, str | None]:
        """(stop reason or None, warning or None)."""
        stop = warning = None
        if val_loss is not None:
            if self.best_val is None or val_loss < self.best_val - self.min_delta:
                self.best_val, self.bad_evals = val_loss, 0
            else:
                self.bad_evals += 1
                if self.patience is not None and self.bad_evals >= self.patience:
                    stop = (f"early stopping at step {step}: validation loss has not improved on "
                            f"{self.best_val:.4f} for {plural(self.bad_evals, 'evaluation')}")
        if guard_loss is not None:
            if self.guard_base is None:
                self.guard_base = guard_loss
            else:
                rise = (guard_loss - self.guard_base) / self.guard_base
                if rise > self.guard_threshold:
                    message = (f"forgetting guard at step {step}: held-out loss {guard_loss:.4f} is "
                               f"{rise:.0%} above the base model's {self.guard_base:.4f} "
                               f"(threshold {self.guard_threshold:.0%})")
                    if self.guard_action == "stop":
                        stop = stop or message
                    elif not self.guard_warned:
                        warning, self.guard_warned = message, True
        return stop, warning
