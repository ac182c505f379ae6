"""Small helpers over sqlglot trees shared by the translator and the catalog."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp


def post_transform(tree: exp.Expr, fn: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """Apply ``fn`` to every node, children first (sqlglot's ``transform`` does not visit
    the children of a node it replaced). Returns the new root."""
    stack: list[tuple[exp.Expr, bool]] = [(tree, False)]
    root = tree
    while stack:
        node, visited = stack.pop()
        if not visited:
            stack.append((node, True))
            stack.extend((child, False) for child in node.iter_expressions())
            continue
        new = fn(node)
        if new is not node:
            if node is root:
                root = new
            else:
                node.replace(new)
    return root


def fn(name: str, *args: exp.Expr) -> exp.Anonymous:
    """A function call sqlglot writes as it is (``NAME(args)``)."""
    return exp.Anonymous(this=name, expressions=list(args))
