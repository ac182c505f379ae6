"""Words for schema names: ``InvoiceLine`` -> "invoice line(s)", ``SupportRepId`` -> "support rep".

The synthesizer phrases questions from table and column names only (no LLM), so the
quality of these few rules decides how natural its questions read. Pure functions.
"""

from __future__ import annotations

import re

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

# Abbreviations seen in real schemas, spelled out in questions (the SQL keeps the name).
_EXPAND = {
    "dob": "date of birth", "qty": "quantity", "amt": "amount", "num": "number", "no": "number",
    "desc": "description", "addr": "address", "yr": "year", "pct": "percentage", "fname": "first name",
    "lname": "last name", "stuid": "student id", "uid": "id", "petid": "pet id", "empid": "employee id", "yn": "", "gnp": "GNP",
    "gnpold": "old GNP", "ms": "milliseconds", "avg": "average", "dept": "department",
}
_KEEP_UPPER = {"id": "id", "gnp": "GNP", "usa": "USA", "uk": "UK"}

_IRREGULAR_PLURAL = {
    "person": "people", "child": "children", "man": "men", "woman": "women", "foot": "feet",
    "mouse": "mice", "tooth": "teeth", "series": "series", "species": "species", "data": "data",
    "info": "info", "information": "information", "staff": "staff", "media": "media",
    "milliseconds": "milliseconds", "bytes": "bytes", "status": "statuses", "analysis": "analyses",
}
_IRREGULAR_SINGULAR = {v: k for k, v in _IRREGULAR_PLURAL.items() if k != v}
_UNCOUNTABLE = {"series", "species", "data", "info", "information", "staff", "media", "news", "equipment"}


def split_words(name: str) -> list[str]:
    """``InvoiceLine`` -> [invoice, line]; ``customer_id`` -> [customer, id];
    ``GNPOld`` -> [gnp, old]. Lower case, abbreviations spelled out."""
    out: list[str] = []
    for chunk in re.split(r"[_\W]+", name):
        if not chunk:
            continue
        whole = _EXPAND.get(chunk.lower())
        if whole is not None:  # "LName", "StuID": an abbreviation, not two words
            out.extend(whole.split())
            continue
        for w in _CAMEL.findall(chunk):
            low = w.lower()
            exp = _EXPAND.get(low)
            if exp is None:
                out.append(low)
            elif exp:
                out.extend(exp.split())
    return out


def words(name: str) -> str:
    """Human words of an identifier: ``BillingCountry`` -> "billing country"."""
    return " ".join(_KEEP_UPPER.get(w, w) for w in split_words(name)) or name.lower()


def pluralize(word: str) -> str:
    """English plural of one word (rules plus a few irregulars)."""
    low = word.lower()
    if low in _UNCOUNTABLE or not low:
        return word
    if low in _IRREGULAR_PLURAL:
        return _IRREGULAR_PLURAL[low]
    if low.endswith("ed") and len(low) > 4:  # a participle ("placed", "released"): leave it
        return word
    if low.endswith(("ss", "sh", "ch", "x", "z")):
        return word + "es"
    if low.endswith("s"):  # already plural ("Dogs", "Courses") or ends in s
        return word
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return word[:-1] + "ies"
    if low.endswith("fe"):
        return word[:-2] + "ves"
    return word + "s"


def singularize(word: str) -> str:
    """English singular of one word; leaves singular words alone."""
    low = word.lower()
    if low in _UNCOUNTABLE or low in _IRREGULAR_PLURAL:
        return word
    if low in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[low]
    if low.endswith("ies") and len(low) > 4:
        return word[:-3] + "y"
    if low.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if low.endswith(("ss", "us", "is", "ys")):
        return word
    if low.endswith("s") and len(low) > 3:
        return word[:-1]
    return word


def plural_phrase(phrase: str) -> str:
    """Pluralize the head (last) word: "invoice line" -> "invoice lines"."""
    parts = phrase.split(" ")
    parts[-1] = pluralize(parts[-1])
    return " ".join(parts)


def singular_phrase(phrase: str) -> str:
    parts = phrase.split(" ")
    parts[-1] = singularize(parts[-1])
    return " ".join(parts)


def article(phrase: str) -> str:
    """"a" or "an" for ``phrase``."""
    first = phrase.strip().lower()
    if not first:
        return "a"
    if first.startswith(("uni", "use", "eu", "one")):
        return "a"
    return "an" if first[0] in "aeiou" or first.startswith("hour") else "a"


def table_noun(table: str) -> tuple[str, str]:
    """(singular, plural) noun phrases for a table: ``MediaType`` -> ("media type", "media types")."""
    base = words(table)
    sing = singular_phrase(base)
    return sing, plural_phrase(sing)


def column_phrase(column: str, table: str) -> str:
    """Words of a column, without a prefix that repeats the table's name:
    ``Track.Milliseconds`` -> "milliseconds"; ``Song.Song_Name`` -> "name";
    ``Customer.FirstName`` -> "first name"."""
    cw = split_words(column)
    tw = [singularize(w) for w in split_words(table)]
    if len(cw) > len(tw) and [singularize(w) for w in cw[: len(tw)]] == tw:
        rest = cw[len(tw):]
        if rest in (["name"], ["names"]):
            cw = rest
    return " ".join(_KEEP_UPPER.get(w, w) for w in cw) or column.lower()


# Other ways people name common columns (the first is the column's own words).
_SYNONYMS = {
    "milliseconds": ["milliseconds", "duration in milliseconds", "length in milliseconds"],
    "bytes": ["bytes", "size in bytes"],
    "unit price": ["unit price", "price"],
    "birth date": ["birth date", "date of birth", "birthday"],
    "email": ["email", "email address"],
    "phone": ["phone", "phone number"],
    "postal code": ["postal code", "zip code"],
    "zip code": ["zip code", "postal code"],
    "dob": ["date of birth", "birth date"],
    "total": ["total", "total amount"],
    "surface area": ["surface area", "area"],
}


def column_variants(phrase: str) -> list[str]:
    """Ways a question may name a column: "milliseconds", "duration in milliseconds"."""
    return _SYNONYMS.get(phrase, [phrase])


def superlatives(phrase: str) -> tuple[list[str], list[str]]:
    """(words for the highest value, words for the lowest) of a numeric or date column."""
    head = phrase.split()[-1] if phrase else ""
    if head in ("milliseconds", "seconds", "minutes", "hours", "duration", "length", "days"):
        return ["longest"], ["shortest"]
    if head in ("age",):
        return ["oldest"], ["youngest"]
    if "birth" in phrase:
        return ["youngest"], ["oldest"]
    if head in ("price", "cost", "fee", "charge"):
        return ["most expensive"], ["cheapest", "least expensive"]
    if head in ("weight",):
        return ["heaviest"], ["lightest"]
    if head in ("date", "time", "year"):
        return ["most recent", "latest"], ["earliest", "first"]
    return [], []


def role_phrase(fk_column: str, ref_table: str) -> str:
    """The role a foreign key names: ``SupportRepId`` -> "support rep"; ``ArtistId`` -> "artist";
    ``DestAirport`` -> "dest airport"."""
    cw = split_words(fk_column)
    if len(cw) > 1 and cw[-1] in ("id", "code", "key", "no", "number"):
        cw = cw[:-1]
    phrase = " ".join(cw)
    ref_sing = table_noun(ref_table)[0]
    return ref_sing if not phrase or phrase == ref_sing or singularize(phrase) == ref_sing else phrase


def is_id_name(column: str) -> bool:
    """Names that are keys rather than facts (``AlbumId``, ``dog_id``, ``uid``, ``code``)."""
    cw = split_words(column)
    return bool(cw) and cw[-1] in ("id", "ids", "key", "uuid") or column.lower() in ("id", "uid", "rowid")


def normalize_question(q: str) -> str:
    """Lower case, punctuation and spacing removed: the key questions are deduplicated by."""
    return " ".join(re.sub(r"[^\w%@.']+", " ", q.lower()).replace("'", " ").split())
