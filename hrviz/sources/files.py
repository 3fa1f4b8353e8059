"""Parsers for uploaded hierarchy files (placeholder until the parsers land)."""
DEFAULT_MAX_BYTES = 200 * 1024 * 1024


def load_file(path, max_bytes=DEFAULT_MAX_BYTES):
    raise NotImplementedError


def parse_upload(data, filename, max_bytes=DEFAULT_MAX_BYTES):
    raise NotImplementedError
