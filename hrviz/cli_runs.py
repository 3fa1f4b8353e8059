"""CLI commands train, eval, runs, export (filled in by the training engine)."""


def register(sub) -> None:
    pass
