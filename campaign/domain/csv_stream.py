"""A CSV file read from a byte stream, checked as it passes: size cap, NUL bytes, and its SHA-256.

The hash is what names a batch (`batch_id_for`), so a streamed file proves it is the file its upload
was reserved for without ever being held whole in memory.
"""

import hashlib
import io
from typing import BinaryIO, TextIO

from campaign.domain.csv_rules import CsvErrorCode, CsvFileError, refuse_binary

_READ_BUFFER_BYTES = 256 * 1024


class CheckedBytes(io.RawIOBase):
    def __init__(self, source: BinaryIO, max_bytes: int) -> None:
        super().__init__()
        self._source = source
        self._max_bytes = max_bytes
        self._hash = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        if not data:
            return 0
        refuse_binary(data)
        self.bytes_read += len(data)
        if self.bytes_read > self._max_bytes:
            raise CsvFileError(
                CsvErrorCode.FILE_TOO_LARGE, f"the file exceeds {self._max_bytes} bytes", limitBytes=self._max_bytes
            )
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def sha256_hex(self) -> str:
        return self._hash.hexdigest()


def open_csv_text(source: BinaryIO, max_bytes: int) -> tuple[TextIO, CheckedBytes]:
    """Text for `read_campaign_rows` (UTF-8, BOM dropped, newlines kept for quoted fields), and the
    checker, whose hash is complete once the text has been read to its end."""
    checked = CheckedBytes(source, max_bytes)
    buffered = io.BufferedReader(checked, buffer_size=_READ_BUFFER_BYTES)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline=""), checked
