"""Two-hop question shapes: ``T1 -> T2 -> T3`` chains (tracks -> albums -> artists) and
two parents met through a shared child (albums <- tracks -> genres) or a bridge table
(playlists <- playlist tracks -> tracks), including INTERSECT ("both X and Y").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from learner import naming
from learner.phrasing import Cand, Ctx, ident, lit
from learner.profile import Edge, TableProfile

Shape = Callable[[Ctx], "Cand | None"]


@dataclass
class Path2:
    """``x`` (T1) related to ``y`` (T3) through ``mid`` (T2)."""

    x: TableProfile
    mid: TableProfile
    y: TableProfile
    join: str  # FROM clause with T1, T2, T3
    via: bool  # mid is a child of both ends (rows of x may repeat)
    y_role: str
    x_key: str  # the column of x its rows are counted by
    y_key: str
    x_link: str  # x's column that links to mid (for row sampling)
    mid_x: str  # mid's column that links to x
    mid_y: str  # mid's column that links to y
    y_link: str


def _paths(c: Ctx) -> list[Path2]:
    out: list[Path2] = []
    T = c.prof.tables
    for e1, e2 in c.prof.chains():
        if e2.child == e1.parent:  # chain: e1.child -> e1.parent(=mid) -> e2.parent
            x, mid, y = T[e1.child], T[e1.parent], T[e2.parent]
            join = (f"{ident(x.name)} AS T1 JOIN {ident(mid.name)} AS T2 ON T1.{ident(e1.child_col)} = T2.{ident(e1.parent_col)} "
                    f"JOIN {ident(y.name)} AS T3 ON T2.{ident(e2.child_col)} = T3.{ident(e2.parent_col)}")
            out.append(Path2(x, mid, y, join, False, e2.role, x.key or e1.child_col, y.key or e2.parent_col,
                             e1.child_col, e1.parent_col, e2.child_col, e2.parent_col))
        else:  # via: mid -> x (e1) and mid -> y (e2)
            x, mid, y = T[e1.parent], T[e1.child], T[e2.parent]
            join = (f"{ident(x.name)} AS T1 JOIN {ident(mid.name)} AS T2 ON T1.{ident(e1.parent_col)} = T2.{ident(e1.child_col)} "
                    f"JOIN {ident(y.name)} AS T3 ON T2.{ident(e2.child_col)} = T3.{ident(e2.parent_col)}")
            out.append(Path2(x, mid, y, join, True, e2.role, x.key or e1.parent_col, y.key or e2.parent_col,
                             e1.parent_col, e1.child_col, e2.child_col, e2.parent_col))
    return [p for p in out if p.x.name != p.y.name]


def _pick(c: Ctx, pred: Callable[[Path2], bool]) -> Path2 | None:
    ps = [p for p in _paths(c) if pred(p)]
    return c.weighted(ps, lambda p: c.table_weight(p.x.name) + c.table_weight(p.y.name) + c.table_weight(p.mid.name) - 2)


def _linked_y_rows(c: Ctx, p: Path2) -> list[dict[str, Any]]:
    """Rows of y that some x reaches (through the sampled mid rows)."""
    ys = {r.get(p.mid_y) for r in p.mid.sample if r.get(p.mid_x) is not None}
    labs = c.label_cols(p.y)
    return [r for r in p.y.sample if r.get(p.y_link) in ys and all(isinstance(r.get(k), str) and 0 < len(r[k]) <= 40 for k in labs)]


def _rel(c: Ctx, p: Path2, said: str) -> str:
    """x rows related to the named y: "tracks by the artist AC/DC", "albums with Rock tracks"."""
    xp, role = p.x.plural, p.y_role
    if p.mid.bridge:
        return c.choice(_bridge_rel(p, said))
    if p.via:
        mp = p.mid.plural
        opts = [f"{xp} that have {mp} of the {role} {said}", f"{xp} with {mp} in the {role} {said}",
                f"{xp} containing {mp} whose {role} is {said}", f"{xp} that contain {said} {mp}" if p.y.rows <= 60 else f"{xp} that have {mp} of {role} {said}"]
    else:
        opts = [f"{xp} of the {role} {said}", f"{xp} by the {role} {said}", f"{xp} in the {role} {said}",
                f"{xp} that belong to the {role} {said}", f"{xp} whose {role} is {said}", f"{xp} of {role} {said}"]
    return c.choice(opts)


def _bridge_rel(p: Path2, said: str) -> list[str]:
    """x and y linked by a bridge table; its name says which contains which
    (``PlaylistTrack``: a playlist has tracks)."""
    first = naming.split_words(p.mid.name)[:1]
    xw, yw = naming.split_words(p.x.name)[:1], naming.split_words(p.y.name)[:1]
    xp, role = p.x.plural, p.y_role
    if first and first == xw:  # x contains y
        return [f"{xp} that contain the {role} {said}", f"{xp} that include the {role} {said}", f"{xp} with the {role} {said}",
                f"{xp} containing {role} {said}"]
    if first and first == yw:  # y contains x
        return [f"{xp} in the {role} {said}", f"{xp} of the {role} {said}", f"{xp} on the {role} {said}", f"{xp} in {role} {said}"]
    return [f"{xp} with the {role} {said}", f"{xp} linked to the {role} {said}", f"{xp} that have the {role} {said}",
            f"{xp} associated with {role} {said}"]


def path_where(c: Ctx) -> Cand | None:
    p = _pick(c, lambda p: bool(p.y.label) and bool(p.x.label or p.x.key) and not p.x.bridge and not p.y.bridge)
    if p is None:
        return None
    rows = _linked_y_rows(c, p)
    if not rows:
        return None
    row = c.choice(rows)
    said = c.name_of(p.y, row) or ""
    where = c.where_label(p.y, row, "T3")
    rel = _rel(c, p, said)
    r = c.rng.random()
    if r < 0.35 or not (p.x.label or p.x.key):
        cnt = f"COUNT(DISTINCT T1.{ident(p.x_key)})" if p.via else "COUNT(*)"
        q = c.choice([f"How many {p.x.plural} does the {p.y_role} {said} have?", c.how_many("", rel).replace("  ", " ")])
        return Cand(q, f"SELECT {cnt} FROM {p.join} WHERE {where}", "path_count", (p.x.name, p.mid.name, p.y.name))
    cols = c.label_cols(p.x)
    what = c.label_phrase(p.x, plural=True)
    distinct = "DISTINCT " if p.via else ""
    q = c.show(f"{what} of all {rel}") if c.chance(0.5) else c.show(f"{what} of the {rel}")
    return Cand(q, f"SELECT {distinct}{c.sel(cols, 'T1')} FROM {p.join} WHERE {where}", "path_where", (p.x.name, p.mid.name, p.y.name))


def path_most(c: Ctx) -> Cand | None:
    """The y with the most x: "Which artist has the most tracks?"."""
    p = _pick(c, lambda p: bool(p.y.label))
    if p is None:
        return None
    lab = c.sel(c.label_cols(p.y), "T3")
    cnt = f"COUNT(DISTINCT T1.{ident(p.x_key)})" if p.via and not p.mid.bridge else "COUNT(*)"
    most = c.chance(0.75)
    role, xp = p.y_role, p.x.plural
    what = c.label_phrase(p.y, plural=False)
    if c.chance(0.3):
        q = c.choice([f"For each {role}, how many {xp} are there?", f"Show each {role}'s {what} and its number of {xp}.",
                      f"How many {xp} does each {role} have?"])
        return Cand(q, f"SELECT {lab}, {cnt} FROM {p.join} GROUP BY {c.group(f'T3.{ident(p.y_key)}', lab)}", "path_group", (p.x.name, p.mid.name, p.y.name))
    q = c.choice([f"Which {role} has the {'most' if most else 'fewest'} {xp}?",
                  f"What is the {what} of the {role} with the {'largest' if most else 'smallest'} number of {xp}?",
                  f"Find the {role} with the {'most' if most else 'fewest'} {xp}."])
    return Cand(q, f"SELECT {lab} FROM {p.join} GROUP BY {c.group(f'T3.{ident(p.y_key)}', lab)} ORDER BY {cnt} {'DESC' if most else 'ASC'} LIMIT 1",
                "path_most", (p.x.name, p.mid.name, p.y.name))


def path_both(c: Ctx) -> Cand | None:
    """x linked to two named y rows: both (INTERSECT) or either (OR)."""
    p = _pick(c, lambda p: p.via and bool(p.x.label) and bool(p.y.label) and len(p.y.label) == 1)
    if p is None:
        return None
    ylab = p.y.label[0]
    ys_by_x: dict[Any, set[Any]] = {}
    for r in p.mid.sample:
        if r.get(p.mid_x) is not None and r.get(p.mid_y) is not None:
            ys_by_x.setdefault(r[p.mid_x], set()).add(r[p.mid_y])
    names = {r.get(p.y_link): r.get(ylab) for r in p.y.sample}
    multi = [sorted(v, key=str) for v in ys_by_x.values() if len(v) >= 2]
    if not multi:
        return None
    pair = c.rng.sample(c.choice(multi), 2)
    a, b = names.get(pair[0]), names.get(pair[1])
    if not (isinstance(a, str) and isinstance(b, str)) or a == b:
        return None
    cols = c.sel(c.label_cols(p.x), "T1")
    what = c.label_phrase(p.x, plural=True)
    sa, sb = c.say(a), c.say(b)
    mp, role = p.mid.plural, p.y_role
    y_col = f"T3.{ident(ylab)}"
    if c.chance(0.6):
        rel = c.choice([f"{p.x.plural} that have {mp} of both the {sa} and {sb} {role}", f"{p.x.plural} containing both {sa} and {sb} {mp}",
                        f"{p.x.plural} with {mp} in both {role} {sa} and {role} {sb}"] if not p.mid.bridge else
                       [r.replace(f"{role} {sa}", f"{role} {sa} and the {role} {sb}") for r in _bridge_rel(p, sa)])
        one = f"SELECT {cols} FROM {p.join} WHERE {y_col} = "
        sql = f"{one}{lit(a)} INTERSECT {one}{lit(b)}"
        return Cand(c.show(f"{what} of {rel}"), sql, "path_intersect", (p.x.name, p.mid.name, p.y.name))
    rel = c.choice([f"{p.x.plural} that have {mp} of the {role} {sa} or {sb}", f"{p.x.plural} with {sa} or {sb} {mp}"] if not p.mid.bridge
                   else [r.replace(f"{role} {sa}", f"{role} {sa} or {sb}") for r in _bridge_rel(p, sa)])
    sql = f"SELECT DISTINCT {cols} FROM {p.join} WHERE {y_col} = {lit(a)} OR {y_col} = {lit(b)}"
    return Cand(c.show(f"{what} of the {rel}"), sql, "path_or", (p.x.name, p.mid.name, p.y.name))


SHAPES: dict[str, tuple[Shape, float]] = {
    "path_where": (path_where, 1.4),
    "path_most": (path_most, 0.9),
    "path_both": (path_both, 0.5),
}
