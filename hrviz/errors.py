"""Errors that are the user's to fix (bad input), as opposed to bugs.

Every interface (CLI, app) catches :class:`InputError` and shows its message in
words: what was wrong, where (file, line, node) and how to fix it. The CLI exits
with code 2 and prints no traceback for these.
"""


class InputError(ValueError):
    """Bad input from the user: a malformed file, an unknown source, a cycle...

    ``where`` names the place (file, line, node) and ``hint`` says how to fix it;
    ``str(err)`` joins them into one readable line.
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text
