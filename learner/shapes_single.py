"""Question shapes over one table: counts, listings, filters on real values (equality,
LIKE, numeric ranges, AND/OR/NOT), aggregates, GROUP BY/HAVING, ORDER BY/LIMIT,
comparisons with the average, and date parts.

Each shape is ``fn(ctx) -> Cand | None`` (None: this draw found nothing that fits).
"""

from __future__ import annotations

from collections.abc import Callable

from learner import naming
from learner.phrasing import Cand, Ctx, fmt_num, ident, lit
from learner.profile import ColProfile, TableProfile

Shape = Callable[[Ctx], "Cand | None"]


def _labelled(t: TableProfile) -> bool:
    return bool(t.label) and not t.bridge


def _filter_col(c: Ctx, tp: TableProfile, *, exclude: set[str] = frozenset()) -> ColProfile | None:  # type: ignore[assignment]
    return c.col(tp, lambda cp: cp.kind == "text" and cp.name not in exclude and not (cp.is_contact and c.chance(0.7)))


def count_all(c: Ctx) -> Cand | None:
    tp = c.table(lambda t: not t.bridge)
    if tp is None:
        return None
    p = tp.plural
    q = c.choice([f"How many {p} are there?", f"Find the number of {p}.", f"Count the {p}.",
                  f"What is the total number of {p}?", f"How many {p} do we have?", f"Return the number of {p}.",
                  f"How many {p} are in the database?", f"Count the number of {p}.", f"Find the total number of {p}."])
    return Cand(q, f"SELECT COUNT(*) FROM {ident(tp.name)}", "count_all", (tp.name,))


def list_col(c: Ctx) -> Cand | None:
    tp = c.table(lambda t: not t.bridge)
    if tp is None:
        return None
    if tp.label and c.chance(0.5):
        cols = c.label_cols(tp)
        what = c.label_phrase(tp, plural=True)
    else:
        cps = [cp for cp in tp.cols.values() if cp.kind in ("text", "number", "date") and cp.nonnull]
        if not cps:
            return None
        k = 1 if c.chance(0.6) or len(cps) < 2 else 2
        picked = c.rng.sample(cps, k)
        cols = [cp.name for cp in picked]
        what = " and ".join(naming.plural_phrase(cp.phrase) for cp in picked)
    p, s = tp.plural, tp.sing
    q = c.choice([f"List the {what} of all {p}.", f"What are the {what} of the {p}?", f"Show the {what} of every {s}.",
                  f"Give me the {what} of all {p}.", f"What are the {what} for each {s}?", f"List all {s} {what}.",
                  f"Show all {p} {what}." if len(cols) == 1 else f"Show the {what} of each {s}.",
                  f"Return the {what} of all {p}."])
    return Cand(q, f"SELECT {c.sel(cols)} FROM {ident(tp.name)}", "list_col", (tp.name,))


def distinct_col(c: Ctx) -> Cand | None:
    tp = c.table()
    nums_ok = c.chance(0.25)
    cp = None if tp is None else c.col(tp, lambda x: x.categorical and (x.kind == "text" or nums_ok))
    if tp is None or cp is None:
        return None
    cs, p = naming.plural_phrase(c.cw(cp)), tp.plural
    q = c.choice([f"What are the distinct {cs} of the {p}?", f"Find the different {cs} of all {p}.",
                  f"List the unique {cs} of {p}.", f"Which different {cs} do the {p} have?",
                  f"Show all distinct {cp.phrase} values of {p}.", f"What {cs} are there among the {p}?"])
    return Cand(q, f"SELECT DISTINCT {ident(cp.name)} FROM {ident(tp.name)}", "distinct_col", (tp.name,))


def count_distinct(c: Ctx) -> Cand | None:
    tp = c.table()
    cp = None if tp is None else c.col(tp, lambda x: x.kind in ("text", "number") and not x.is_pk and not x.unique
                                       and x.distinct >= 2 and not x.is_contact)
    if tp is None or cp is None:
        return None
    cs, p = naming.plural_phrase(c.cw(cp)), tp.plural
    q = c.choice([f"How many distinct {cs} are there among the {p}?", f"How many different {cs} do the {p} have?",
                  f"Find the number of different {cs} of {p}.", f"Count the distinct {cs} of {p}.",
                  f"How many unique {cs} appear in {p}?", f"In how many different {cs} are there {p}?"]
                 + ([f"How many different {cs} do the {p} live in?", f"In how many distinct {cs} do {p} live?"] if cp.is_place and c.is_person(tp) else []))
    return Cand(q, f"SELECT COUNT(DISTINCT {ident(cp.name)}) FROM {ident(tp.name)}", "count_distinct", (tp.name,))


def where_eq(c: Ctx) -> Cand | None:
    """Label (or other columns, or *) of rows with a text column equal to a real value."""
    tp = c.table(lambda t: not t.bridge)
    if tp is None:
        return None
    cp = _filter_col(c, tp)
    if cp is None:
        return None
    v = c.text_value(cp)
    if v is None:
        return None
    said = c.say(v, cp)
    cond = c.cond_eq(tp, cp, said)
    where = f"{ident(cp.name)} = {lit(v)}"
    r = c.rng.random()
    if r < 0.15:
        sql = f"SELECT * FROM {ident(tp.name)} WHERE {where}"
        q = c.choice([f"Find all the {tp.sing} information for {tp.plural} {cond}.",
                      f"Show all details of the {tp.plural} {cond}.", f"What is all the information about {tp.plural} {cond}?",
                      f"List everything about the {tp.plural} {cond}."])
        return Cand(q, sql, "select_star", (tp.name,))
    if r < 0.55 and tp.label and cp.name not in tp.label:
        cols = c.label_cols(tp)
        what = c.label_phrase(tp, plural=True)
    else:
        others = [x for x in tp.cols.values() if x.name != cp.name and x.kind in ("text", "number", "date") and x.nonnull]
        if not others:
            return None
        picked = c.rng.sample(others, 1 if c.chance(0.6) or len(others) < 2 else 2)
        cols = [x.name for x in picked]
        what = " and ".join(naming.plural_phrase(x.phrase) for x in picked)
    sql = f"SELECT {c.sel(cols)} FROM {ident(tp.name)} WHERE {where}"
    if c.chance(0.25) and cp.unique:
        one = what if len(cols) == 2 and "name" in what else what
        q = c.choice([f"What is the {naming.singular_phrase(one)} of the {tp.sing} {cond}?",
                      f"Find the {naming.singular_phrase(one)} of the {tp.sing} {cond}."])
    elif c.chance(0.2) and tp.label and cols == c.label_cols(tp):
        q = f"Which {tp.plural} {c.who(tp)} {cond.removeprefix('that ').removeprefix('who ')}?" if cond.startswith(("that ", "who ")) else f"Which {tp.plural} are {cond}?" if cond.startswith(("in ", "from ", "located ")) else f"Which {tp.plural} have {cond.removeprefix('with ').removeprefix('having ')}?" if cond.startswith(("with ", "having ")) else f"Which {tp.plural} are there {cond}?"
    else:
        q = c.show(f"{what} of the {tp.plural} {cond}") if c.chance(0.6) else c.show(f"{what} of all {tp.plural} {cond}")
    return Cand(q, sql, "where_eq", (tp.name,))


def count_where(c: Ctx) -> Cand | None:
    tp = c.table(lambda t: not t.bridge)
    unique_ok = c.chance(0.15)
    cp = None if tp is None else c.col(tp, lambda x: x.kind == "text" and not x.is_contact and (unique_ok or not x.unique))
    if tp is None or cp is None:
        return None
    v = c.text_value(cp, frequent=c.chance(0.6))
    if v is None:
        return None
    said = c.say(v, cp)
    sql = f"SELECT COUNT(*) FROM {ident(tp.name)} WHERE {ident(cp.name)} = {lit(v)}"
    if cp.is_place and c.is_person(tp) and c.chance(0.5):
        q = c.choice([f"How many {tp.plural} live in {said}?", f"How many {tp.plural} are from {said}?",
                      f"Count the {tp.plural} living in {said}."])
    elif cp.is_place and c.chance(0.5):
        q = c.choice([f"How many {tp.plural} are in {said}?", f"How many {tp.plural} are from {said}?",
                      f"How many {tp.plural} are located in {said}?"])
    else:
        q = c.how_many(tp.plural, c.cond_eq(tp, cp, said))
    return Cand(q, sql, "count_where", (tp.name,))


def where_and_or(c: Ctx) -> Cand | None:
    """Two conditions: AND on one real row's values, OR of two values of one column, or NOT."""
    tp = c.table(_labelled)
    if tp is None:
        return None
    cp1 = c.col(tp, lambda x: x.kind == "text" and x.name not in tp.label and not x.is_contact)
    if cp1 is None:
        return None
    cols, what = c.label_cols(tp), c.label_phrase(tp, plural=True)
    r = c.rng.random()
    if r < 0.4:
        cp2 = c.col(tp, lambda x: x.name != cp1.name and x.kind in ("text", "number") and not x.unique and x.name not in tp.label)
        row = None if cp2 is None else c.row(tp, cp1.name, cp2.name)
        if cp2 is None or row is None:
            return None
        v1, v2 = row[cp1.name], row[cp2.name]
        cond = f"{c.cond_eq(tp, cp1, c.say(v1, cp1))} and {c.choice(['whose ', 'with ', ''])}{c.cw(cp2)} {c.choice(['is ', ''])}{c.say(v2, cp2)}"
        sql = f"SELECT {c.sel(cols)} FROM {ident(tp.name)} WHERE {ident(cp1.name)} = {lit(v1)} AND {ident(cp2.name)} = {lit(v2)}"
        shape = "where_and"
    elif r < 0.7:
        vals = [v for v in cp1.texts() if len(v) <= 30]
        if len(vals) < 2:
            return None
        v1, v2 = c.rng.sample(vals, 2)
        s1, s2 = c.say(v1, cp1), c.say(v2, cp1)
        cond = c.choice([f"whose {cp1.phrase} is {s1} or {s2}", f"with {cp1.phrase} {s1} or {s2}",
                         f"whose {cp1.phrase} is either {s1} or {s2}", f"with a {cp1.phrase} of {s1} or {s2}"])
        if cp1.is_place:
            cond = c.choice([cond, f"in {s1} or {s2}", f"from {s1} or {s2}"])
        sql = f"SELECT {c.sel(cols)} FROM {ident(tp.name)} WHERE {ident(cp1.name)} = {lit(v1)} OR {ident(cp1.name)} = {lit(v2)}"
        shape = "where_or"
    else:
        v = c.text_value(cp1, frequent=True)
        if v is None:
            return None
        s = c.say(v, cp1)
        cond = c.choice([f"whose {cp1.phrase} is not {s}", f"with a {cp1.phrase} other than {s}",
                         f"that do not have {cp1.phrase} {s}", f"whose {cp1.phrase} is different from {s}"])
        if cp1.is_place:
            cond = c.choice([cond, f"not in {s}", f"that are not from {s}"])
        sql = f"SELECT {c.sel(cols)} FROM {ident(tp.name)} WHERE {ident(cp1.name)} != {lit(v)}"
        shape = "where_not"
    return Cand(c.show(f"{what} of the {tp.plural} {cond}"), sql, shape, (tp.name,))


def where_like(c: Ctx) -> Cand | None:
    tp = c.table(lambda t: not t.bridge)
    cp = None if tp is None else c.col(tp, lambda x: x.kind == "text" and not x.categorical and x.distinct > 3 and (x.name in tp.label or c.chance(0.5)))
    if tp is None or cp is None:
        return None
    v = c.text_value(cp)
    if v is None:
        return None
    ws = [w for w in v.replace(",", " ").replace("(", " ").replace(")", " ").split() if len(w) >= 3 and w.isalpha()]
    col = c.cw(cp)
    is_label = tp.label == [cp.name]
    r = c.rng.random()
    if "@" in v and c.chance(0.7):  # an email: its domain
        dom = v.split("@", 1)[1]
        pat = f"%{dom}%"
        said = c.say(dom)
        cond = c.choice([f"whose {col} contains {said}", f"with {naming.article(col)} {col} containing {said}",
                         f"that have {said} in their {col}", f"with {col} that contains {said}"])
    elif r < 0.5 and ws:
        w = c.choice(ws).lower() if c.chance(0.6) else c.choice(ws)
        pat = f"%{w}%"
        said = c.say(w)
        cond = c.choice([f"whose {col} contains the word {said}", f"whose {col} contains {said}", f"with {said} in their {col}",
                         f"whose {col} includes {said}", f"with a {col} containing {said}",
                         f"that have {said} in their {naming.plural_phrase(col)}"]
                        + ([f"that contain the word {said}", f"that contain {said}", f"containing the word {said}"] if is_label else []))
    elif r < 0.7:
        ch = c.choice([x for x in "aeiorstnl"])
        pat = f"%{ch}%"
        cond = c.choice([f"that have the letter '{ch}' in their {col}", f"whose {col} contains the letter {ch}",
                         f'with "{ch}" in their {naming.plural_phrase(col)}', f"whose {col} has an '{ch}' in it"])
    elif r < 0.88:
        n = c.choice([1, 1, 2, 3])
        pre = v[:n]
        if not pre.isalnum():
            return None
        pat = f"{pre}%"
        cond = c.choice([f"whose {col} starts with {c.say(pre)}", f"with a {col} beginning with {c.say(pre)}",
                         f"whose {col} begins with the letter {pre}" if n == 1 else f"whose {col} starts with '{pre}'"])
    else:
        suf = v.split()[-1]
        if not suf.isalpha() or len(suf) < 3:
            return None
        pat = f"%{suf}"
        cond = c.choice([f"whose {col} ends with {c.say(suf)}", f"with a {col} ending in {c.say(suf)}"])
    like = f"{ident(cp.name)} {c.like_op()} {lit(pat)}"
    if c.chance(0.3):
        return Cand(c.how_many(tp.plural, cond), f"SELECT COUNT(*) FROM {ident(tp.name)} WHERE {like}", "count_like", (tp.name,))
    if tp.label and c.chance(0.5):
        cols, what = c.label_cols(tp), c.label_phrase(tp, plural=True)
    else:
        cols, what = [cp.name], naming.plural_phrase(col)
    sql = f"SELECT {c.sel(cols)} FROM {ident(tp.name)} WHERE {like}"
    q = c.show(f"{what} of all {tp.plural} {cond}") if c.chance(0.7) else f"Which {tp.plural} {cond.removeprefix('that ')}?" if cond.startswith("that ") else c.show(f"{what} of {tp.plural} {cond}")
    return Cand(q, sql, "where_like", (tp.name,))


_OPS = [">", "<", ">=", "<="]


def where_num(c: Ctx) -> Cand | None:
    tp = c.table(lambda t: not t.bridge)
    cp = None if tp is None else c.col(tp, lambda x: x.kind == "number" and x.distinct >= 3)
    if tp is None or cp is None:
        return None
    op = c.choice(_OPS)
    v = c.threshold(cp)
    if v is None:
        return None
    said = fmt_num(v)
    if c.chance(0.15):
        v2 = c.threshold(cp, low=0.55, high=0.95)
        if v2 is None or v2 <= v:
            return None
        cond = c.choice([f"whose {cp.phrase} is between {said} and {fmt_num(v2)}",
                         f"with {cp.phrase} between {said} and {fmt_num(v2)}"])
        where = f"{ident(cp.name)} BETWEEN {fmt_num(v)} AND {fmt_num(v2)}"
    else:
        cond = c.cond_num(cp, op, said)
        where = f"{ident(cp.name)} {op} {said}"
    if c.chance(0.35):
        return Cand(c.how_many(tp.plural, cond), f"SELECT COUNT(*) FROM {ident(tp.name)} WHERE {where}", "count_num", (tp.name,))
    if tp.label and c.chance(0.6):
        cols, what = c.label_cols(tp), c.label_phrase(tp, plural=True)
    else:
        others = [x for x in tp.cols.values() if x.kind in ("text", "number", "key") and x.nonnull and x.name != cp.name]
        if not others:
            return None
        picked = c.rng.sample(others, 1 if c.chance(0.6) or len(others) < 2 else 2)
        cols = [x.name for x in picked]
        what = " and ".join(naming.plural_phrase(x.phrase) for x in picked)
    sql = f"SELECT {c.sel(cols)} FROM {ident(tp.name)} WHERE {where}"
    return Cand(c.show(f"{what} of the {tp.plural} {cond}"), sql, "where_num", (tp.name,))


_AGG_WORDS = {
    "AVG": ["average", "mean", "average"],
    "SUM": ["total", "sum of the", "combined"],
    "MAX": ["maximum", "highest", "largest"],
    "MIN": ["minimum", "lowest", "smallest"],
}


def agg(c: Ctx) -> Cand | None:
    tp = c.table(lambda t: not t.bridge)
    cp = None if tp is None else c.col(tp, lambda x: x.kind == "number")
    if tp is None or cp is None:
        return None
    col, p = c.cw(cp), tp.plural
    where, cond = "", ""
    if c.chance(0.35):
        fc = _filter_col(c, tp)
        v = None if fc is None else c.text_value(fc, frequent=True)
        if fc is None or v is None:
            return None
        where = f" WHERE {ident(fc.name)} = {lit(v)}"
        cond = " " + c.cond_eq(tp, fc, c.say(v, fc))
    r = c.rng.random()
    if r < 0.25:
        a, b = ("MAX", "MIN") if c.chance(0.5) else ("MIN", "MAX")
        wa, wb = c.choice(_AGG_WORDS[a]), c.choice(_AGG_WORDS[b])
        hi, lo = naming.superlatives(cp.phrase)
        if hi and lo and c.chance(0.4):
            sh, sl = (c.choice(hi), c.choice(lo)) if a == "MAX" else (c.choice(lo), c.choice(hi))
            q = c.choice([f"What are the {col} of the {sh} and the {sl} {p}{cond}?", f"Find the {col} of the {sh} and {sl} {tp.sing}{cond}."])
        else:
            q = c.choice([f"What are the {wa} and {wb} {col} of {p}{cond}?", f"Find the {wa} and {wb} {col} of all {p}{cond}.",
                          f"Show the {wa} and the {wb} {col} of the {p}{cond}."])
        sql = f"SELECT {a}({ident(cp.name)}), {b}({ident(cp.name)}) FROM {ident(tp.name)}{where}"
        return Cand(q, sql, "agg_multi", (tp.name,))
    if r < 0.35:
        q = c.choice([f"What is the average, minimum, and maximum {col} of {p}{cond}?",
                      f"Show the average, minimum and maximum {col} of all {p}{cond}."])
        n = ident(cp.name)
        return Cand(q, f"SELECT AVG({n}), MIN({n}), MAX({n}) FROM {ident(tp.name)}{where}", "agg_multi", (tp.name,))
    fn = c.choice(["AVG", "AVG", "SUM", "MAX", "MIN"])
    w = c.choice(_AGG_WORDS[fn])
    q = c.choice([f"What is the {w} {col} of {p}{cond}?", f"Find the {w} {col} of all {p}{cond}.",
                  f"What is the {w} {col} of all the {p}{cond}?", f"Compute the {w} {col} of the {p}{cond}.",
                  f"Return the {w} {col} across all {p}{cond}."])
    return Cand(q, f"SELECT {fn}({ident(cp.name)}) FROM {ident(tp.name)}{where}", "agg_where" if where else "agg", (tp.name,))


def group_by(c: Ctx) -> Cand | None:
    tp = c.table()
    nums_ok = c.chance(0.2)
    g = None if tp is None else c.col(tp, lambda x: x.categorical and (x.kind == "text" or nums_ok))
    if tp is None or g is None:
        return None
    gp, gs, p = c.cw(g), naming.plural_phrase(g.phrase), tp.plural
    t, gc = ident(tp.name), ident(g.name)
    r = c.rng.random()
    if r < 0.3:
        q = c.choice([f"How many {p} are there for each {gp}?", f"Show each {gp} and the number of {p} with it.",
                      f"For each {gp}, how many {p} are there?", f"Count the {p} per {gp}.",
                      f"List the {gs} and the number of {p} in each.", f"What is the number of {p} for each {gp}?"])
        return Cand(q, f"SELECT {gc}, COUNT(*) FROM {t} GROUP BY {gc}", "group_count", (tp.name,))
    if r < 0.5:
        n = c.col(tp, lambda x: x.kind == "number" and x.name != g.name)
        if n is None:
            return None
        fn = c.choice(["AVG", "SUM", "MAX", "MIN"])
        w, nw = c.choice(_AGG_WORDS[fn]), c.cw(n)
        q = c.choice([f"What is the {w} {nw} of {p} for each {gp}?", f"For each {gp}, find the {w} {nw} of {p}.",
                      f"Show each {gp} with the {w} {nw} of its {p}.", f"List the {w} {nw} of {p} per {gp}."])
        return Cand(q, f"SELECT {gc}, {fn}({ident(n.name)}) FROM {t} GROUP BY {gc}", "group_agg", (tp.name,))
    if r < 0.78:
        most = c.chance(0.7)
        d = "DESC" if most else "ASC"
        adj = c.choice(["most common", "most frequent", "most popular"]) if most else c.choice(["least common", "rarest", "least frequent"])
        q = c.choice([f"What is the {adj} {gp} of {p}?", f"Which {gp} is the {adj} among {p}?",
                      f"Which {gp} has the {'most' if most else 'fewest'} {p}?", f"Find the {adj} {gp} across all {p}.",
                      f"What is the {gp} that the {'most' if most else 'fewest'} {p} have?"]
                     + ([f"Which {gp} do the {'most' if most else 'fewest'} {p} live in?"] if g.is_place and c.is_person(tp) else []))
        return Cand(q, f"SELECT {gc} FROM {t} GROUP BY {gc} ORDER BY COUNT(*) {d} LIMIT 1", "group_most", (tp.name,))
    counts = sorted({n for _, n in g.values})
    if len(counts) < 2:
        return None
    k = counts[c.rng.randrange(len(counts) - 1)]
    op, w = c.choice([(">", "more than"), (">=", "at least"), ("<", "fewer than"), ("<=", "at most")])
    if op == ">=" and k == 1 or op == "<" and k == counts[0]:
        return None
    q = c.choice([f"Which {gs} have {w} {k} {p}?", f"Find the {gs} with {w} {k} {p}.",
                  f"List the {gs} shared by {w} {k} {p}.", f"What are the {gs} that have {w} {k} {p}?"])
    return Cand(q, f"SELECT {gc} FROM {t} GROUP BY {gc} HAVING COUNT(*) {op} {k}", "group_having", (tp.name,))


def order_top(c: Ctx) -> Cand | None:
    tp = c.table(_labelled)
    if tp is None:
        return None
    cols, what = c.label_cols(tp), c.label_phrase(tp, plural=True)
    t = ident(tp.name)
    r = c.rng.random()
    if r < 0.25:
        oc = c.col(tp, lambda x: x.kind in ("text", "number", "date"))
        if oc is None:
            return None
        if oc.kind == "text" and oc.name in tp.label:
            q = c.choice([f"List all {what} of {tp.plural} in alphabetical order.", f"What are all the {tp.sing} {what}, in alphabetical order?",
                          f"Show the {what} of the {tp.plural} sorted alphabetically.", f"List the {tp.plural} {what} in alphabetical order."])
            return Cand(q, f"SELECT {c.sel(cols)} FROM {t} ORDER BY {c.sel(cols[:1])}", "order_by", (tp.name,))
        desc = c.chance(0.5)
        shown = cols if oc.name in cols or c.chance(0.5) else cols + [oc.name]
        what2 = what if shown == cols else f"{what} and {naming.plural_phrase(oc.phrase)}"
        order = c.choice([f"ordered by {oc.phrase} {'descending' if desc else 'ascending'}",
                          f"sorted by {oc.phrase} from {'highest to lowest' if desc else 'lowest to highest'}",
                          f"in {'descending' if desc else 'ascending'} order of {oc.phrase}"])
        return Cand(c.show(f"{what2} of all {tp.plural}, {order}"),
                    f"SELECT {c.sel(shown)} FROM {t} ORDER BY {ident(oc.name)}{' DESC' if desc else ''}", "order_by", (tp.name,))
    oc = c.col(tp, lambda x: x.kind in ("number", "date") and x.distinct > 2)
    if oc is None:
        return None
    high = c.chance(0.6)
    hi, lo = naming.superlatives(oc.phrase)
    special = (hi if high else lo) if c.chance(0.6) or oc.kind == "date" else []
    if oc.kind == "date" and not special:
        special = ["most recent"] if high else ["earliest"]
    adj = c.choice(special) if special else c.choice(["highest", "largest", "greatest", "biggest"] if high else ["lowest", "smallest", "least"])
    d = " DESC" if high else ""
    ocw = c.cw(oc)
    if r < 0.65:
        extra = c.chance(0.3) and oc.name not in cols
        shown = cols + [oc.name] if extra else cols
        what1 = c.label_phrase(tp, plural=False) + (f" and {ocw}" if extra else "")
        if special:
            q = c.choice([f"What is the {what1} of the {adj} {tp.sing}?", f"Which {tp.sing} is the {adj}?" if not extra else f"Find the {what1} of the {adj} {tp.sing}.",
                          f"Find the {what1} of the {adj} {tp.sing}.", f"Show the {what1} of the {adj} {tp.sing}."])
        else:
            q = c.choice([f"Which {tp.sing} has the {adj} {ocw}?", f"What is the {what1} of the {tp.sing} with the {adj} {ocw}?",
                          f"Find the {what1} of the {tp.sing} that has the {adj} {ocw}.", f"Show the {what1} of the {tp.sing} with the {adj} {ocw}."])
        return Cand(q, f"SELECT {c.sel(shown)} FROM {t} ORDER BY {ident(oc.name)}{d} LIMIT 1", "superlative", (tp.name,))
    k = c.choice([2, 3, 3, 5, 5, 10])
    if k >= tp.rows:
        return None
    if special:
        q = c.choice([f"What are the {what} of the {k} {adj} {tp.plural}?", f"List the {k} {adj} {tp.plural}.",
                      f"Show the {what} of the {k} {adj} {tp.plural}."])
    else:
        q = c.choice([f"What are the {what} of the {k} {tp.plural} with the {adj} {ocw}?",
                      f"List the top {k} {tp.plural} by {ocw}." if high and oc.kind == "number" else f"List the {k} {tp.plural} with the {adj} {ocw}.",
                      f"Show the {what} of the {k} {tp.plural} with the {adj} {ocw}.",
                      f"Return the {what} of the {k} {tp.plural} that have the {adj} {ocw}."])
    return Cand(q, f"SELECT {c.sel(cols)} FROM {t} ORDER BY {ident(oc.name)}{d} LIMIT {k}", "top_n", (tp.name,))


def above_avg(c: Ctx) -> Cand | None:
    tp = c.table(_labelled)
    cp = None if tp is None else c.col(tp, lambda x: x.kind == "number" and x.distinct > 2)
    if tp is None or cp is None:
        return None
    above = c.chance(0.65)
    op = ">" if above else "<"
    n, t = ident(cp.name), ident(tp.name)
    cond = c.choice([f"whose {cp.phrase} is {'above' if above else 'below'} average",
                     f"with a {cp.phrase} {'higher' if above else 'lower'} than the average",
                     f"whose {cp.phrase} is {'greater' if above else 'less'} than the average {cp.phrase}",
                     f"with {'more' if above else 'less'} {cp.phrase} than average"])
    sub = f"(SELECT AVG({n}) FROM {t})"
    if c.chance(0.3):
        return Cand(c.how_many(tp.plural, cond), f"SELECT COUNT(*) FROM {t} WHERE {n} {op} {sub}", "above_avg", (tp.name,))
    what = c.label_phrase(tp, plural=True)
    return Cand(c.show(f"{what} of the {tp.plural} {cond}"), f"SELECT {c.sel(c.label_cols(tp))} FROM {t} WHERE {n} {op} {sub}", "above_avg", (tp.name,))


def date_part(c: Ctx) -> Cand | None:
    tp = c.table()
    cp = None if tp is None else c.col(tp, lambda x: x.kind == "date" and len(x.years()) >= 1)
    if tp is None or cp is None:
        return None
    years = cp.years()
    y = c.choice(years)
    ye, t, p = c.year_expr(cp), ident(tp.name), tp.plural
    col = cp.phrase
    verb = {"birth": "born", "hire": "hired", "invoice": "invoiced", "order": "ordered", "release": "released",
            "start": "started", "join": "joined", "ship": "shipped", "registration": "registered"}.get(col.split()[0], "")
    in_year = c.choice([f"with {col} in {y}", f"whose {col} is in {y}", f"with a {col} in the year {y}"]
                       + ([f"{verb} in {y}", f"that were {verb} in {y}"] if verb else []))
    r = c.rng.random()
    if r < 0.35:
        return Cand(c.how_many(p, in_year), f"SELECT COUNT(*) FROM {t} WHERE {ye} = {c.year_lit(y)}", "year_count", (tp.name,))
    if r < 0.55:
        q = c.choice([f"How many {p} are there for each year of {col}?", f"Count the {p} per year of {col}.",
                      f"For each year, how many {p} have a {col} in it?", f"Show the number of {p} by {col} year."])
        return Cand(q, f"SELECT {ye}, COUNT(*) FROM {t} GROUP BY {ye}", "year_group", (tp.name,))
    if r < 0.75:
        n = c.col(tp, lambda x: x.kind == "number")
        if n is None:
            return None
        fn = c.choice(["SUM", "AVG", "MAX"])
        w, nw = c.choice(_AGG_WORDS[fn]), c.cw(n)
        q = c.choice([f"What is the {w} {nw} of {p} {in_year}?", f"Find the {w} {nw} of all {p} {in_year}."])
        return Cand(q, f"SELECT {fn}({ident(n.name)}) FROM {t} WHERE {ye} = {c.year_lit(y)}", "year_agg", (tp.name,))
    if not tp.label and not tp.key:
        return None
    cols = c.label_cols(tp)
    what = c.label_phrase(tp, plural=True)
    if c.chance(0.5):
        before = c.chance(0.5)
        lit_date = f"'{y}-01-01'"
        cond = c.choice([f"with {col} before {y}", f"whose {col} is before {y}"] if before else
                        [f"with {col} in or after {y}", f"whose {col} is {y} or later"])
        where = f"{ident(cp.name)} {'<' if before else '>='} {lit_date}"
        return Cand(c.show(f"{what} of the {p} {cond}"), f"SELECT {c.sel(cols)} FROM {t} WHERE {where}", "date_range", (tp.name,))
    return Cand(c.show(f"{what} of the {p} {in_year}"), f"SELECT {c.sel(cols)} FROM {t} WHERE {ye} = {c.year_lit(y)}", "year_filter", (tp.name,))


SHAPES: dict[str, tuple[Shape, float]] = {
    "count_all": (count_all, 0.6),
    "list_col": (list_col, 0.8),
    "distinct_col": (distinct_col, 0.6),
    "count_distinct": (count_distinct, 0.5),
    "where_eq": (where_eq, 2.0),
    "count_where": (count_where, 1.0),
    "where_and_or": (where_and_or, 1.0),
    "where_like": (where_like, 1.0),
    "where_num": (where_num, 1.2),
    "agg": (agg, 1.3),
    "group_by": (group_by, 1.6),
    "order_top": (order_top, 1.4),
    "above_avg": (above_avg, 0.7),
    "date_part": (date_part, 0.8),
}
