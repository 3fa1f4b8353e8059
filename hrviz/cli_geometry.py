"""CLI command geometry (filled in by the geometry module)."""


def register(sub) -> None:
    pass
