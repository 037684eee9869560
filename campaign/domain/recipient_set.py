"""The recipients already seen in one file, held in ~16 bytes each so a million-row file fits.

A Python set of a million address strings costs over 100 MB, which is what the streaming ingest must
not grow by. This keeps a 64-bit digest of each normalized address in an open-addressing table in an
`array('Q')`. Two distinct addresses share a 64-bit digest with probability about n²/2⁶⁵ (3·10⁻⁸ for a
million rows): the cost of such a collision is one recipient skipped as a duplicate, never a send.
"""

import hashlib
from array import array

_EMPTY = 0
_INITIAL_SLOTS = 1024
# Grow before the table is half full, so probe runs stay short.
_MAX_LOAD = 0.5


def _digest(key: str) -> int:
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return value or 1  # 0 marks an empty slot


class RecipientSet:
    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * _INITIAL_SLOTS))
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, key: str) -> bool:
        """Record `key`; True if it is new, False if it was seen before."""
        if (self._size + 1) > len(self._slots) * _MAX_LOAD:
            self._grow()
        if self._insert(self._slots, _digest(key)):
            self._size += 1
            return True
        return False

    @staticmethod
    def _insert(slots: array, value: int) -> bool:  # type: ignore[type-arg]
        mask = len(slots) - 1
        index = value & mask
        while True:
            current = slots[index]
            if current == _EMPTY:
                slots[index] = value
                return True
            if current == value:
                return False
            index = (index + 1) & mask

    def _grow(self) -> None:
        bigger = array("Q", bytes(16 * len(self._slots)))
        for value in self._slots:
            if value != _EMPTY:
                self._insert(bigger, value)
        self._slots = bigger
