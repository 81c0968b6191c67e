"""A YAML loader with limits: file size, nesting depth, aliases and the size of the expanded document.

PyYAML's safe loader shares an aliased node between its uses, so a "billion laughs" file of a few
hundred bytes loads quickly into a small object graph -- and then explodes in whatever walks it as a
tree (pydantic, a deep merge, JSON). This loader counts, while composing, how many nodes the document
has *with every alias expanded*, and refuses it beyond ``max_nodes``; it also refuses more than
``max_aliases`` aliases, nesting deeper than ``max_depth``, recursive aliases, and more than
``max_bytes`` of text. Composition stops at the first excess, so refusing costs time and memory in
proportion to the limits, not to the expansion.

Each scalar's raw text (before it becomes an int: ``0x…`` or 64 decimal digits) is checked by
:func:`gallery.redact.find_secret`; a value that looks like a private key or a mnemonic is refused
with its line, column and key path, never its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gallery.redact import find_secret, find_secret_in_words


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1 << 20  # 1 MiB of text
    max_depth: int = 48  # nested mappings / sequences
    max_aliases: int = 256
    max_nodes: int = 100_000  # nodes of the document with every alias expanded


DEFAULT_LIMITS = Limits()


class YAMLLimitError(ValueError):
    """The document breaks a limit (or holds a secret); the message names where, never the value."""

    def __init__(self, message: str, mark: Any = None) -> None:
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        super().__init__(where + message)
        self.mark = mark


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: str, limits: Limits) -> None:
        super().__init__(stream)
        self._limits = limits
        self._depth = 0
        self._aliases = 0
        self._size: dict[int, int] = {}  # id(node) -> nodes in its expansion

    # The scanner looks ahead over every open flow collection ("[[[[…"): quadratic in the nesting, so
    # the depth is refused while scanning, before the composer would see it.
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= self._limits.max_depth:
            raise YAMLLimitError(f"nested more than {self._limits.max_depth} levels deep", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= self._limits.max_depth:
            raise YAMLLimitError(f"nested more than {self._limits.max_depth} levels deep", self.get_mark())
        return super().add_indent(column)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        lim = self._limits
        if self.check_event(AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            if self._aliases > lim.max_aliases:
                raise YAMLLimitError(f"more than {lim.max_aliases} aliases (*name)", event.start_mark)
            node = super().compose_node(parent, index)
            if id(node) not in self._size:
                raise YAMLLimitError("an alias refers to the node that contains it (a recursive document)",
                                     event.start_mark)
            return node
        self._depth += 1
        if self._depth > lim.max_depth:
            raise YAMLLimitError(f"nested more than {lim.max_depth} levels deep", self.peek_event().start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, SequenceNode):
            size = 1 + sum(self._size[id(c)] for c in node.value)
        elif isinstance(node, MappingNode):
            size = 1 + sum(self._size[id(k)] + self._size[id(v)] for k, v in node.value)
        else:
            size = 1
        if size > lim.max_nodes:
            raise YAMLLimitError(f"expands to more than {lim.max_nodes} values (aliases expanded: "
                                 "a 'billion laughs' document?)", node.start_mark)
        self._size[id(node)] = size
        return node


def _scalar_text(node: Node) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else ""


def _check_secrets(root: Node) -> None:
    """Refuse a scalar (key or value) that looks like a secret; a list of words spelling a mnemonic too."""
    seen: set[int] = set()
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        where = path or "<top level>"
        if isinstance(node, ScalarNode):
            why = find_secret(node.value)
            if why:
                raise YAMLLimitError(f"{where}: {why}", node.start_mark)
        elif isinstance(node, SequenceNode):
            why = find_secret_in_words([_scalar_text(c) for c in node.value if isinstance(c, ScalarNode)])
            if why:
                raise YAMLLimitError(f"{where}: {why}", node.start_mark)
            for i, c in enumerate(node.value):
                stack.append((c, f"{path}[{i}]"))
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                name = _scalar_text(k) or "?"
                why = find_secret(name) if isinstance(k, ScalarNode) else None
                if why:
                    raise YAMLLimitError(f"{path or '<top level>'}: a key: {why}", k.start_mark)
                if not isinstance(k, ScalarNode):
                    stack.append((k, f"{path}.<key>" if path else "<key>"))
                stack.append((v, f"{path}.{name}" if path else name))


def load(text: str | bytes, limits: Limits = DEFAULT_LIMITS, check_secrets: bool = True) -> Any:
    """Parse one YAML document within ``limits``. Raises YAMLLimitError or yaml.YAMLError."""
    if isinstance(text, bytes):
        if len(text) > limits.max_bytes:
            raise YAMLLimitError(f"larger than {limits.max_bytes} bytes")
        text = text.decode("utf-8")
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise YAMLLimitError(f"larger than {limits.max_bytes} bytes")
    loader = _LimitedLoader(text, limits)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if check_secrets:
            _check_secrets(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_limited(path: Any, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a file, refusing it (YAMLLimitError) when it is larger than ``limits.max_bytes``."""
    chunks: list[bytes] = []
    total = 0
    with open(path, "rb") as f:  # in chunks: memory in proportion to the file, a pipe or /dev/zero too
        while chunk := f.read(64 * 1024):
            total += len(chunk)
            if total > limits.max_bytes:
                raise YAMLLimitError(f"larger than {limits.max_bytes} bytes (a configuration file is a few KB)")
            chunks.append(chunk)
    return b"".join(chunks)
