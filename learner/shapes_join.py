"""Question shapes along foreign keys: one hop (child ``T1`` joined to parent ``T2``) and two
hops (a chain ``a -> b -> c``, or two parents met through a shared child or bridge table).

Filters use parent rows that really have children, so results are not empty by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from learner import naming
from learner.phrasing import Cand, Ctx, fmt_num, ident, lit
from learner.profile import Edge, TableProfile

Shape = Callable[[Ctx], "Cand | None"]


def _on(e: Edge, child: str = "T1", parent: str = "T2") -> str:
    return f"{child}.{ident(e.child_col)} = {parent}.{ident(e.parent_col)}"


def _from1(e: Edge) -> str:
    """``Child AS T1 JOIN Parent AS T2 ON ...``."""
    return f"{ident(e.child)} AS T1 JOIN {ident(e.parent)} AS T2 ON {_on(e)}"


def _pkey(c: Ctx, e: Edge) -> str:
    p = c.prof.tables[e.parent]
    return p.key or e.parent_col


def _parent_row(c: Ctx, e: Edge, *, cols: list[str]) -> dict[str, Any] | None:
    """A parent row (with ``cols`` set) that has at least one child."""
    used = {v for v, _ in c.prof.tables[e.child].cols[e.child_col].values}
    parent = c.prof.tables[e.parent]
    rows = [r for r in parent.sample if r.get(e.parent_col) in used]
    rows = [r for r in rows if all(isinstance(r.get(k), str) and 0 < len(r[k]) <= 40 for k in cols)]
    return c.choice(rows) if rows else None


def _role_words(c: Ctx, e: Edge) -> tuple[str, str]:
    """(singular, plural) words for the parent in this relationship."""
    role = e.role
    return role, naming.plural_phrase(role)


def _rel(c: Ctx, child_pl: str, e: Edge, said: str, small_parent: bool) -> str:
    """Children related to one named parent: "albums by the artist AC/DC"."""
    role = e.role
    opts = [f"{child_pl} of the {role} {said}", f"{child_pl} by the {role} {said}", f"{child_pl} whose {role} is {said}",
            f"{child_pl} that belong to the {role} {said}", f"{child_pl} with {role} {said}", f"{child_pl} of {role} {said}",
            f"{child_pl} from the {role} {said}", f"{child_pl} associated with the {role} {said}"]
    if small_parent:
        opts += [f"{said} {child_pl}", f"{child_pl} in the {said} {role}", f"{child_pl} that belong to {said} {role}",
                 f"{child_pl} in {said} {role}"]
    return c.choice(opts)


def _small(tp: TableProfile) -> bool:
    """A lookup table whose names read as adjectives ("Rock tracks", "Jazz albums")."""
    return tp.rows <= 60 and len(tp.label) == 1


def _child_what(c: Ctx, child: TableProfile, alias: str) -> tuple[str, str] | None:
    cols = c.label_cols(child) if child.label else []
    if not cols or c.chance(0.25):
        cps = [x for x in child.cols.values() if x.kind in ("text", "number", "date") and x.nonnull and not x.is_contact]
        if not cps:
            return None
        cp = c.choice(cps)
        return f"{alias}.{ident(cp.name)}", naming.plural_phrase(c.cw(cp))
    return c.sel(cols, alias), c.label_phrase(child, plural=True)


def join_where(c: Ctx) -> Cand | None:
    e = c.edge(lambda e: bool(c.prof.tables[e.parent].label) and not c.prof.tables[e.child].bridge)
    if e is None:
        return None
    child, parent = c.prof.tables[e.child], c.prof.tables[e.parent]
    cw = _child_what(c, child, "T1")
    if cw is None:
        return None
    sel, what = cw
    if c.chance(0.7):
        row = _parent_row(c, e, cols=c.label_cols(parent))
        if row is None:
            return None
        said = c.name_of(parent, row) or ""
        where = c.where_label(parent, row, "T2")
        rel = _rel(c, child.plural, e, said, _small(parent))
    else:
        fc = c.col(parent, lambda x: x.kind == "text" and x.name not in parent.label and not x.is_contact)
        row = None if fc is None else _parent_row(c, e, cols=[fc.name])
        if fc is None or row is None:
            return None
        v = row[fc.name]
        _, role_pl = _role_words(c, e)
        rel = f"{child.plural} of {role_pl} {c.cond_eq(parent, fc, c.say(v, fc))}"
        where = f"T2.{ident(fc.name)} = {lit(v)}"
    sql = f"SELECT {sel} FROM {_from1(e)} WHERE {where}"
    q = c.show(f"{what} of the {rel}") if c.chance(0.5) else c.show(f"{what} of all {rel}")
    if c.chance(0.2) and what.endswith(("names", "titles")):
        q = c.choice([f"What are the {what} of {rel}?", f"Find the {what} of all the {rel}."])
    return Cand(q, sql, "join_where", (e.child, e.parent))


def _parent_filter(c: Ctx, e: Edge) -> tuple[str, str] | None:
    """(WHERE clause, the named parent(s) as said) for one parent row, or two small-table rows (OR)."""
    parent = c.prof.tables[e.parent]
    row = _parent_row(c, e, cols=c.label_cols(parent))
    if row is None:
        return None
    said = c.name_of(parent, row) or ""
    where = c.where_label(parent, row, "T2")
    if _small(parent) and c.chance(0.2):
        row2 = _parent_row(c, e, cols=c.label_cols(parent))
        lab = parent.label[0]
        if row2 is None or row2[lab] == row[lab]:
            return None
        said = f"{said} {c.choice(['or', 'and'])} {c.name_of(parent, row2)}"
        where = f"T2.{ident(lab)} = {lit(row[lab])} OR T2.{ident(lab)} = {lit(row2[lab])}"
    return where, said


def join_count(c: Ctx) -> Cand | None:
    e = c.edge(lambda e: bool(c.prof.tables[e.parent].label))
    if e is None:
        return None
    child, parent = c.prof.tables[e.child], c.prof.tables[e.parent]
    pf = _parent_filter(c, e)
    if pf is None:
        return None
    where, said = pf
    role = e.role
    cp = child.plural
    q = c.choice([f"How many {cp} does the {role} {said} have?", f"How many {cp} belong to the {role} {said}?",
                  f"How many {cp} are there for the {role} {said}?", f"Find the number of {cp} of the {role} {said}.",
                  f"Count the number of {cp} that belong to the {role} {said}.", f"How many {cp} are by the {role} {said}?",
                  c.how_many(cp, _rel(c, "", e, said, _small(parent)))]
                 + ([f"How many {cp} belong to {said} {role}?", f"How many {said} {cp} are there?",
                     f"How many {cp} are in the {said} {role}?"] if _small(parent) else []))
    return Cand(q, f"SELECT COUNT(*) FROM {_from1(e)} WHERE {where}", "join_count", (e.child, e.parent))


def join_agg(c: Ctx) -> Cand | None:
    e = c.edge(lambda e: bool(c.prof.tables[e.parent].label))
    if e is None:
        return None
    child, parent = c.prof.tables[e.child], c.prof.tables[e.parent]
    n = c.col(child, lambda x: x.kind == "number")
    pf = None if n is None else _parent_filter(c, e)
    if n is None or pf is None:
        return None
    where, said = pf
    nw = c.cw(n)
    rel = _rel(c, child.plural, e, said, _small(parent))
    col = f"T1.{ident(n.name)}"
    if c.chance(0.3):
        q = c.choice([f"What are the maximum and minimum {nw} of {rel}?", f"Find the largest and smallest {nw} of the {rel}."])
        return Cand(q, f"SELECT MAX({col}), MIN({col}) FROM {_from1(e)} WHERE {where}", "join_agg", (e.child, e.parent))
    fn, w = c.choice([("AVG", "average"), ("AVG", "mean"), ("SUM", "total"), ("MAX", "highest"), ("MIN", "lowest")])
    q = c.choice([f"What is the {w} {nw} of {rel}?", f"Find the {w} {nw} of the {rel}.",
                  f"Compute the {w} {nw} of all {rel}."])
    return Cand(q, f"SELECT {fn}({col}) FROM {_from1(e)} WHERE {where}", "join_agg", (e.child, e.parent))


def join_lookup(c: Ctx) -> Cand | None:
    """A parent fact for one named child: "Which artist does the album X belong to?"."""
    e = c.edge(lambda e: not c.prof.tables[e.child].bridge)
    if e is None:
        return None
    child, parent = c.prof.tables[e.child], c.prof.tables[e.parent]
    fc = c.col(child, lambda x: x.kind == "text" and (x.unique or x.name in child.label))
    if fc is None and child.key and child.key in child.cols:
        fc = child.cols[child.key]  # no name: rows are known by their id ("order 17")
    if fc is None:
        return None
    rows = [r for r in child.sample if r.get(e.child_col) is not None and (
        isinstance(r.get(fc.name), int) or isinstance(r.get(fc.name), str) and 0 < len(r[fc.name]) <= 40)]
    if not rows:
        return None
    row = c.choice(rows)
    said = c.say(row[fc.name], fc)
    if fc.kind == "key":
        of_child = c.choice([f"the {child.sing} with id {said}", f"{child.sing} {said}", f"the {child.sing} number {said}"])
    elif fc.name in child.label:
        of_child = c.choice([f"the {child.sing} {said}", f"the {child.sing} with {fc.phrase} {said}",
                             f"the {child.sing} whose {fc.phrase} is {said}"])
    else:
        of_child = c.choice([f"the {child.sing} with {fc.phrase} {said}", f"the {child.sing} whose {fc.phrase} is {said}"])
    role = e.role
    if parent.label and c.chance(0.6):
        sel = c.sel(c.label_cols(parent), "T2")
        what = c.label_phrase(parent, plural=False)
        q = c.choice([f"Which {role} does {of_child} belong to?", f"What is the {what} of the {role} of {of_child}?",
                      f"Find the {what} of the {role} for {of_child}.", f"Who is the {role} of {of_child}?" if c.is_person(parent) else f"Which {role} is {of_child} in?"])
    else:
        pc = c.col(parent, lambda x: x.kind in ("text", "number", "date") and x.name not in parent.label)
        if pc is None:
            return None
        sel, what = f"T2.{ident(pc.name)}", pc.phrase
        q = c.choice([f"What is the {what} of the {role} of {of_child}?", f"Find the {role} {what} for {of_child}.",
                      f"What {what} does the {role} of {of_child} have?"])
    return Cand(q, f"SELECT {sel} FROM {_from1(e)} WHERE T1.{ident(fc.name)} = {lit(row[fc.name])}", "join_lookup", (e.child, e.parent))


def join_group(c: Ctx) -> Cand | None:
    """Per parent: count, most/fewest, HAVING, total/average of a child number."""
    e = c.edge(lambda e: bool(c.prof.tables[e.parent].label) or c.prof.tables[e.parent].key is not None)
    if e is None:
        return None
    child, parent = c.prof.tables[e.child], c.prof.tables[e.parent]
    role, role_pl = _role_words(c, e)
    key = f"T2.{ident(_pkey(c, e))}"
    lab = c.sel(c.label_cols(parent), "T2") if parent.label else key
    what = c.label_phrase(parent, plural=False) if parent.label else "id"
    cp = child.plural
    r = c.rng.random()
    if r < 0.22:
        with_id = parent.label and parent.key and c.chance(0.3)
        sel = f"{lab}, {key}" if with_id else lab
        whats = c.label_phrase(parent, plural=True) if parent.label else "ids"
        ids = f"{whats} and ids" if with_id else whats
        q = c.choice([f"For each {role}, how many {cp} are there?", f"Show the {role} {ids} and the number of {cp} for each {role}.",
                      f"List each {role}'s {what} with the number of {cp}.", f"How many {cp} does each {role} have?",
                      f"What are the {ids} of the {role_pl}, and how many {cp} does each have?",
                      f"Show the number of {cp} of each {role} along with its {what}."])
        return Cand(q, f"SELECT {sel}, COUNT(*) FROM {_from1(e)} GROUP BY {c.group(key, sel)}", "join_group_count", (e.child, e.parent))
    if r < 0.55:
        most = c.chance(0.7)
        d = "DESC" if most else "ASC"
        common = _small(parent)
        if most:
            q = c.choice([f"Which {role} has the most {cp}?", f"What is the {what} of the {role} with the greatest number of {cp}?",
                          f"Which {role} has the largest number of {cp}?", f"What is the {what} of the {role} with the most {cp}?"]
                         + ([f"What is the most common {role} among all {cp}?", f"Find the {role} that is most frequent across all {cp}.",
                             f"What is the {what} of the most common {role} of {cp}?", f"Which {role} is the most common in all {cp}?"] if common else []))
        else:
            q = c.choice([f"Which {role} has the fewest {cp}?", f"What is the {what} of the {role} with the smallest number of {cp}?"]
                         + ([f"What is the least common {role} among all {cp}?", f"Find the {role} that is least common across all {cp}.",
                             f"What is the {what} of the least common {role} in all {cp}?"] if common else []))
        return Cand(q, f"SELECT {lab} FROM {_from1(e)} GROUP BY {c.group(key, lab)} ORDER BY COUNT(*) {d} LIMIT 1", "join_most", (e.child, e.parent))
    if r < 0.8:
        counts = sorted({n for _, n in child.cols[e.child_col].values})
        if len(counts) < 2:
            return None
        k = counts[c.rng.randrange(len(counts) - 1)] if c.chance(0.7) else counts[len(counts) // 2]
        op, w = c.choice([(">=", "at least"), (">", "more than"), ("<=", "at most"), ("<", "fewer than"), (">=", f"{k} or more")])
        phr = w if w.endswith("more") else f"{w} {k}"
        if op == ">=" and k <= 1:
            return None
        with_id = parent.label and parent.key and c.chance(0.25)
        sel = f"{lab}, {key}" if with_id else lab
        whats = c.label_phrase(parent, plural=True) if parent.label else "ids"
        ids = f"{whats} and ids" if with_id else whats
        order = ""
        tail = ""
        if parent.label and c.chance(0.25):
            order = f" ORDER BY {c.sel(c.label_cols(parent)[:1], 'T2')}"
            tail = c.choice([" in alphabetical order", ", sorted alphabetically"])
        q = c.choice([f"Which {role_pl} have {phr} {cp}{tail}?" if not with_id else f"Show the {ids} of {role_pl} that have {phr} {cp}{tail}.",
                      f"Show the {ids} of {role_pl} with {phr} {cp}{tail}.",
                      f"What are the {ids} of the {role_pl} that have {phr} {cp}{tail}?",
                      f"List the {ids} of all {role_pl} having {phr} {cp}{tail}."])
        return Cand(q, f"SELECT {sel} FROM {_from1(e)} GROUP BY {c.group(key, sel)} HAVING COUNT(*) {op} {k}{order}", "join_having", (e.child, e.parent))
    n = c.col(child, lambda x: x.kind == "number")
    if n is None:
        return None
    fn, w = c.choice([("SUM", "total"), ("SUM", "total"), ("AVG", "average")])
    col, nw = f"T1.{ident(n.name)}", c.cw(n)
    if c.chance(0.5):
        q = c.choice([f"What is the {w} {nw} of {cp} for each {role}?", f"Show each {role}'s {what} and the {w} {nw} of its {cp}.",
                      f"For each {role}, find the {w} {nw} of their {cp}."])
        return Cand(q, f"SELECT {lab}, {fn}({col}) FROM {_from1(e)} GROUP BY {c.group(key, lab)}", "join_group_agg", (e.child, e.parent))
    high = c.chance(0.75)
    q = c.choice([f"Which {role} has the {'highest' if high else 'lowest'} {w} {nw} of {cp}?",
                  f"What is the {what} of the {role} whose {cp} have the {'highest' if high else 'lowest'} {w} {nw}?",
                  f"Find the {role} with the {'largest' if high else 'smallest'} {w} {nw} across their {cp}."])
    return Cand(q, f"SELECT {lab} FROM {_from1(e)} GROUP BY {c.group(key, lab)} ORDER BY {fn}({col}) {'DESC' if high else 'ASC'} LIMIT 1", "join_top_agg", (e.child, e.parent))


def join_has(c: Ctx) -> Cand | None:
    """Parents that have children meeting a condition, or parents meeting one that have children."""
    e = c.edge(lambda e: bool(c.prof.tables[e.parent].label) and not c.prof.tables[e.child].bridge)
    if e is None:
        return None
    child, parent = c.prof.tables[e.child], c.prof.tables[e.parent]
    role, role_pl = _role_words(c, e)
    what = c.label_phrase(parent, plural=True)
    lab = c.sel(c.label_cols(parent), "T2")
    if c.chance(0.55):
        n = c.col(child, lambda x: x.kind == "number" and x.distinct >= 2)
        if n is None:
            return None
        op = c.choice([">", "<", ">", ">="])
        v = c.threshold(n, low=0.3, high=0.9)
        if v is None:
            return None
        cond = c.cond_num(n, op, fmt_num(v), with_only=True)
        if parent.key and c.chance(0.25):
            lab, what = f"{lab}, T2.{ident(parent.key)}", f"{what} and ids"
        q = c.choice([f"Which {role_pl} have {child.plural} {cond}?" if not what.endswith("ids") else f"Show the {what} of {role_pl} with {child.plural} {cond}.",
                      f"Show the {what} of {role_pl} that have {child.plural} {cond}.",
                      f"What are the {what} of {role_pl} with at least one {child.sing} {cond}?",
                      f"Find the {what} of the {role_pl} whose {child.plural} include one {cond}."])
        if c.chance(0.3):
            return Cand(q, f"SELECT {lab} FROM {_from1(e)} WHERE T1.{ident(n.name)} {op} {fmt_num(v)} GROUP BY {c.group('T2.' + ident(_pkey(c, e)), lab)}", "join_has", (e.child, e.parent))
        return Cand(q, f"SELECT DISTINCT {lab} FROM {_from1(e)} WHERE T1.{ident(n.name)} {op} {fmt_num(v)}", "join_has", (e.child, e.parent))
    fc = c.col(parent, lambda x: x.kind == "text" and x.name not in parent.label and not x.is_contact)
    row = None if fc is None else _parent_row(c, e, cols=[fc.name])
    if fc is None or row is None:
        return None
    v = row[fc.name]
    cond = c.cond_eq(parent, fc, c.say(v, fc))
    pcols = c.label_cols(parent)
    other = c.col(parent, lambda x: x.kind == "text" and x.name != fc.name and (x.name not in pcols or len(pcols) > 1))
    if other is not None and c.chance(0.4):
        sel, what = f"T2.{ident(other.name)}", naming.plural_phrase(other.phrase)
    else:
        sel = lab
    have = c.choice([f"have {naming.article(child.sing)} {child.sing}", f"have at least one {child.sing}", f"have had {naming.article(child.sing)} {child.sing}", f"have any {child.plural}"])
    q = c.choice([f"What are the different {what} of {role_pl} {cond} who {have}?", f"Find the {what} of all {role_pl} {cond} that {have}.",
                  f"Show the distinct {what} of {role_pl} {cond} that also {have}."])
    return Cand(q, f"SELECT DISTINCT {sel} FROM {_from1(e)} WHERE T2.{ident(fc.name)} = {lit(v)}", "join_has", (e.child, e.parent))


def anti_join(c: Ctx) -> Cand | None:
    """Parents with no children (NOT IN / NOT EXISTS / EXCEPT), optionally no children meeting a condition."""
    e = c.edge(lambda e: bool(c.prof.tables[e.parent].label or c.prof.tables[e.parent].key), bridges=True)
    if e is None:
        return None
    child, parent = c.prof.tables[e.child], c.prof.tables[e.parent]
    role, role_pl = _role_words(c, e)
    pp = parent.plural
    child_pl = child.plural
    if child.bridge:  # "playlists with no tracks": name the table at the bridge's other end
        other = next((x for x in c.prof.parents(child.name) if x.child_col != e.child_col), None)
        if other is None:
            return None
        child_pl = naming.plural_phrase(other.role)
    subject = pp if role == parent.sing else f"{pp} that are not the {role} of any {child.sing}"
    cols = c.label_cols(parent)
    pk, fk = ident(e.parent_col), ident(e.child_col)
    conds = [f"{fk} IS NOT NULL"] if child.cols[e.child_col].nonnull < child.rows else []
    extra = ""  # the child condition alone, for the NOT EXISTS and EXCEPT forms
    cond_txt = ""
    if c.chance(0.25) and not child.bridge:
        n = c.col(child, lambda x: x.kind == "number" and x.distinct >= 2)
        v = None if n is None else c.threshold(n, low=0.5, high=0.95)
        if n is None or v is None:
            return None
        extra = f"{ident(n.name)} > {fmt_num(v)}"
        conds.append(extra)
        cond_txt = " " + c.cond_num(n, ">", fmt_num(v), with_only=True)
    sub_where = (" WHERE " + " AND ".join(conds)) if conds else ""
    none = c.choice(["do not have any", "have no", "don't have any", "are without", "have never had any", "have not got any"])
    desc = f"{pp} that {none} {child_pl}{cond_txt}" if role == parent.sing else subject + cond_txt
    if c.chance(0.3):
        q = c.choice([f"How many {desc}?", f"Count the number of {desc}.", f"Find the number of {desc}."])
        return Cand(q, f"SELECT COUNT(*) FROM {ident(parent.name)} WHERE {pk} NOT IN (SELECT {fk} FROM {ident(child.name)}{sub_where})",
                    "anti_count", (e.child, e.parent), allow_empty=True)
    if not cols:
        return None
    what = c.label_phrase(parent, plural=True)
    named = True
    if c.chance(0.3):  # one other column instead of the name
        oc = c.col(parent, lambda x: x.kind in ("text", "number", "date") and (len(cols) > 1 or x.name not in cols))
        if oc is not None and oc.kind != "key":
            cols, what, named = [oc.name], naming.plural_phrase(c.cw(oc)), False
    which = c.show(f"{what} of the {desc}") if not named else (
        f"Which {pp} {none} {child_pl}{cond_txt}?" if role == parent.sing else f"Which {desc}?")
    q = c.choice([which, c.show(f"{what} of {desc}"), c.show(f"{what} of the {desc}"), f"Find the {what} of {desc}."])
    style = c.rng.random()
    if style < 0.55 or len(cols) > 1:
        sql = f"SELECT {c.sel(cols)} FROM {ident(parent.name)} WHERE {pk} NOT IN (SELECT {fk} FROM {ident(child.name)}{sub_where})"
    elif style < 0.8:
        inner = f"SELECT 1 FROM {ident(child.name)} AS T2 WHERE T2.{fk} = T1.{pk}" + (f" AND T2.{extra}" if extra else "")
        sql = f"SELECT {c.sel(cols, 'T1')} FROM {ident(parent.name)} AS T1 WHERE NOT EXISTS ({inner})"
    else:
        sub = f" WHERE T1.{extra}" if extra else ""
        sql = (f"SELECT {c.sel(cols)} FROM {ident(parent.name)} EXCEPT SELECT {c.sel(cols, 'T2')} FROM {_from1(e)}{sub}")
    return Cand(q, sql, "anti_join", (e.child, e.parent), allow_empty=True)


def join_list(c: Ctx) -> Cand | None:
    e = c.edge(lambda e: bool(c.prof.tables[e.parent].label and c.label_cols(c.prof.tables[e.child])))
    if e is None:
        return None
    child, parent = c.prof.tables[e.child], c.prof.tables[e.parent]
    cl, pl = c.label_phrase(child, plural=False), c.label_phrase(parent, plural=False)
    q = c.choice([f"List each {child.sing} {cl} along with the {pl} of its {e.role}.",
                  f"Show the {naming.plural_phrase(cl)} of all {child.plural} and the {naming.plural_phrase(pl)} of their {naming.plural_phrase(e.role)}.",
                  f"For every {child.sing}, give its {cl} and its {e.role}'s {pl}.",
                  f"What is the {e.role} {pl} of each {child.sing}? Show the {child.sing} {cl} too."])
    sql = f"SELECT {c.sel(c.label_cols(child), 'T1')}, {c.sel(c.label_cols(parent), 'T2')} FROM {_from1(e)}"
    return Cand(q, sql, "join_list", (e.child, e.parent))


SHAPES: dict[str, tuple[Shape, float]] = {
    "join_where": (join_where, 2.2),
    "join_count": (join_count, 1.4),
    "join_agg": (join_agg, 1.0),
    "join_lookup": (join_lookup, 1.2),
    "join_group": (join_group, 2.4),
    "join_has": (join_has, 1.0),
    "anti_join": (anti_join, 1.0),
    "join_list": (join_list, 0.4),
}
