"""Connected components of a relation over named items (union-find with path halving)."""
from __future__ import annotations

from typing import Iterable


class Components:
    """Items start alone; :meth:`join` merges two items' components. Each component is named by its smallest
    item (in sort order), so the naming does not depend on the order of the joins."""

    def __init__(self, items: Iterable[str]):
        self.parent = {i: i for i in items}

    def find(self, i: str) -> str:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: str, b: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        self.parent[rb] = ra

    def same(self, a: str, b: str) -> bool:
        return self.find(a) == self.find(b)

    def names(self) -> dict[str, str]:
        """Item -> the name of its component."""
        return {i: self.find(i) for i in self.parent}
