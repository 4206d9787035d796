"""Provides TextList: the ordered list of parsed [debug] entries (breakpoints, watches)."""

from __future__ import annotations

from tuinn.engine.debug import MAX_ENTRIES, did_you_mean
from tuinn.fmt import safe
from tuinn.errors import TuinnError


class TextList:
    """An ordered list of parsed entries (breakpoints, watches) keyed by their text:
    `parse(text, names)` makes one; `key` is the [debug] key its errors name."""

    key = "debug"
    what = "entry"

    def __init__(self, items=()):
        self.items: list = list(items)

    @staticmethod
    def parse(text: str, names=None):
        raise NotImplementedError

    @classmethod
    def from_spec(cls, texts, names=None, *, file: str | None = None, line: int | None = None):
        """From the scenario's [debug] list; errors point at that key."""
        out = cls()
        if len(texts) > MAX_ENTRIES:
            raise TuinnError(f"{len(texts):,} entries: at most {MAX_ENTRIES}", file=file,
                             line=line, key=cls.key)
        for text in texts:
            try:
                out.add(text, names)
            except TuinnError as err:
                err.file, err.line, err.key = err.file or file, err.line or line, cls.key
                raise
        return out

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]

    def list(self) -> list:
        return list(self.items)

    def add(self, item, names=None):
        """Add (parsing text); an entry with the same text is returned, not doubled."""
        if isinstance(item, str):
            item = self.parse(item, names)
        old = next((x for x in self.items if x.text == item.text), None)
        if old is None:
            self.items.append(item)
        return old or item

    def find(self, which):
        """By position, text or identity; TuinnError if there is none."""
        for i, item in enumerate(self.items):
            if item is which or (isinstance(which, str) and item.text == which.strip()) or \
                    (type(which) is int and i == which):
                return item
        raise TuinnError(f"no {self.what} '{safe(which, limit=40)}'",
                         hint=did_you_mean(str(which), [x.text for x in self.items]))

    def remove(self, which):
        item = self.find(which)
        self.items.remove(item)
        return item
