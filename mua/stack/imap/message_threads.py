"""THREAD (RFC 5256 sections 4 and 5): ORDEREDSUBJECT and REFERENCES over the messages a
search found, and the `* THREAD` response's nested lists. Pure functions over `sort.Facts`.
Named for what it threads (messages), apart from `mua.stack.thread`, the world's own thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby

from mua.stack.imap.basesubject import collation_key
from mua.stack.imap.sort import Facts

ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES")
# The last this many References of a message are linked (each link walks up the tree to
# refuse loops): a hostile header of 50,000 ids costs no more than a long real thread.
MAX_REFERENCES = 256


@dataclass(eq=False)
class Node:
    """A container of the REFERENCES algorithm; `message` None is a dummy."""

    message: Facts | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def adopt(self, child: Node) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def is_ancestor_of(self, other: Node) -> bool:
        node: Node | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def first_message(self) -> Facts | None:
        """Its own message, or (a dummy) that of its first child, as step 5 and 6 use."""
        node: Node | None = self
        while node is not None and node.message is None:
            node = node.children[0] if node.children else None
        return node.message if node is not None else None


def thread(algorithm: str, messages: Sequence[Facts]) -> list[Node]:
    if algorithm == "ORDEREDSUBJECT":
        return ordered_subject(messages)
    return references(messages)


def _date_key(node: Node) -> tuple[float, int]:
    first = node.first_message()
    return (first.sent, first.seq) if first is not None else (0.0, 0)


def ordered_subject(messages: Sequence[Facts]) -> list[Node]:
    """Section 4: by base subject, then sent date; each group a thread whose first message
    is the parent of all others; threads in the order of their first message's date."""

    def subject(facts: Facts) -> str:
        return collation_key(facts.base[0])

    ordered = sorted(messages, key=lambda f: (subject(f), f.sent, f.seq))
    roots = []
    for _, group in groupby(ordered, key=subject):
        first, *rest = group
        root = Node(first)
        for facts in rest:
            root.adopt(Node(facts))
        roots.append(root)
    roots.sort(key=_date_key)
    return roots


def references(messages: Sequence[Facts]) -> list[Node]:
    """Section 3 (THREAD=REFERENCES, after Jamie Zawinski's algorithm), steps 1 to 6."""
    table: dict[str, Node] = {}
    containers: list[Node] = []

    def container(message_id: str) -> Node:
        node = table.get(message_id)
        if node is None:
            node = table[message_id] = Node()
            containers.append(node)
        return node

    for facts in sorted(messages, key=lambda f: f.seq):
        # 1A: link the references in order, never changing a link, never making a loop.
        previous: Node | None = None
        for ref in facts.references[-MAX_REFERENCES:]:
            node = container(ref)
            if (
                previous is not None
                and node.parent is None
                and node is not previous
                and not node.is_ancestor_of(previous)
            ):
                previous.adopt(node)
            previous = node
        # 1B: the message's own container (a duplicate or missing Message-ID gets a fresh
        # one); its parent is the last reference, replacing any, unless that makes a loop.
        own = table.get(facts.message_id) if facts.message_id else None
        if own is None or own.message is not None:
            own = Node()
            containers.append(own)
            if facts.message_id and facts.message_id not in table:
                table[facts.message_id] = own
        own.message = facts
        if own.parent is not None:
            own.parent.children.remove(own)
            own.parent = None
        if previous is not None and previous is not own and not own.is_ancestor_of(previous):
            previous.adopt(own)
    # 2: the root set; 3: the table is no longer needed; 4: prune the dummies.
    roots = _prune([node for node in containers if node.parent is None])
    _sort_siblings(roots)  # 4 (the root level by date) before 5 gathers in that order
    roots = _gather_subjects(roots)
    _sort_siblings(roots)  # 6
    return roots


def _preorder(roots: list[Node]) -> list[Node]:
    """Every node under `roots`, parents before children (no recursion: hostile References
    can chain thousands of messages)."""
    out: list[Node] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


def _prune(roots: list[Node]) -> list[Node]:
    """Step 3: dummies without children go; a dummy's children move up to its level, except
    that a dummy at the root keeps two or more children (it holds a thread together)."""
    for node in reversed(_preorder(roots)):  # children before their parents
        node.children = _pruned(node.children, node, at_root=False)
    return _pruned(roots, None, at_root=True)


def _pruned(nodes: list[Node], parent: Node | None, *, at_root: bool) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        if node.message is not None or (at_root and len(node.children) > 1):
            node.parent = parent
            out.append(node)
            continue
        for child in node.children:
            child.parent = parent
        out.extend(node.children)
    return out


def _gather_subjects(roots: list[Node]) -> list[Node]:
    """Step 5: root-level threads with the same base subject become one thread."""

    def subject_of(node: Node) -> str:
        first = node.first_message()
        return collation_key(first.base[0]) if first is not None else ""

    def reply(node: Node) -> bool:
        first = node.first_message()
        return first is not None and first.base[1]

    table: dict[str, Node] = {}
    for root in roots:  # 5B: one per subject, a dummy or a non-reply preferred
        subject = subject_of(root)
        if not subject:
            continue
        old = table.get(subject)
        if old is None or (
            old.message is not None and (root.message is None or (reply(old) and not reply(root)))
        ):
            table[subject] = root
    out = list(roots)
    for root in roots:  # 5C: merge each thread into the table's one
        subject = subject_of(root)
        other = table.get(subject) if subject else None
        if other is None or other is root:
            continue
        out.remove(root)
        if other.message is None and root.message is None:
            for child in list(root.children):
                other.adopt(child)
        elif other.message is None or (reply(root) and not reply(other)):
            other.adopt(root)
        else:
            dummy = Node()
            out[out.index(other)] = dummy
            dummy.adopt(other)
            dummy.adopt(root)
            table[subject] = dummy
    return out


def _sort_siblings(roots: list[Node]) -> None:
    """Step 6: siblings by sent date (a dummy by its first child's), then mailbox order;
    the youngest siblings first, so that a dummy's first child is known when it is sorted."""
    for node in reversed(_preorder(roots)):
        node.children.sort(key=_date_key)
    roots.sort(key=_date_key)


def format_threads(roots: Sequence[Node], *, by_uid: bool) -> str:
    """The `* THREAD` response's data: `(2)(3 6 (4 23)(44 7 96))`; a dummy has no number
    (`((3)(5))`). A chain of single children is one list; a branch nests one per child."""
    out: list[str] = []
    stack: list[Node | str] = list(reversed(roots))
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        numbers: list[str] = []
        node = item
        while True:
            if node.message is not None:
                numbers.append(str(node.message.uid if by_uid else node.message.seq))
            if len(node.children) != 1:
                break
            node = node.children[0]
        out.append("(" + " ".join(numbers) + (" " if numbers and node.children else ""))
        stack.append(")")
        stack.extend(reversed(node.children))
    return "".join(out)
