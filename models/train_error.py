"""The error of a training run that cannot start or resume as asked."""


class TrainError(ValueError):
    """A training run that cannot start or resume as asked (no data, a checkpoint that does not fit)."""
