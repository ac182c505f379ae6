"""Summaries: the template sentence, and the check that keeps a model's sentence honest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.base import Column
from nl2sql.summarise import check_summary, clean_model_sentence, template_summary

NAME_COUNT = [Column("Name", "text"), Column("n", "int8")]


@pytest.mark.parametrize("question,columns,rows,expected", [
    ("how many albums are there?", [Column("count", "int8")], [(347,)], "The answer is 347."),
    ("average price?", [Column("avg", "float8")], [(1.0392,)], "The answer is 1.04."),
    ("total?", [Column("sum", "numeric")], [(Decimal("3.50"),)], "The answer is 3.5."),
    ("which artist has the most albums?", NAME_COUNT, [("Iron Maiden", 21)], "Iron Maiden has the most, with 21."),
    ("which genre has the fewest tracks?", NAME_COUNT, [("Opera", 1)], "Opera has the least, with 1."),
    ("tracks of Rock", NAME_COUNT, [("Rock", 1297)], "Rock: 1297."),
    ("first customer", [Column("FirstName"), Column("LastName"), Column("Country")], [("Luís", "Gonçalves", "Brazil")],
     "The result is FirstName = Luís, LastName = Gonçalves, Country = Brazil."),
    ("which 3 genres have the most tracks?", NAME_COUNT, [("Rock", 1297), ("Latin", 579), ("Metal", 374)],
     "Found 3 rows; the first is Rock (1297)."),
    ("anything?", NAME_COUNT, [], "No rows match the question."),
    ("empty value", [Column("x")], [(None,)], "The answer is NULL."),
])
def test_template(question: str, columns: list[Column], rows: list[tuple[object, ...]], expected: str) -> None:
    assert template_summary(question, columns, rows) == expected


def test_template_says_when_rows_were_cut() -> None:
    text = template_summary("all tracks", [Column("Name")], [("a",), ("b",)], truncated=True)
    assert text.startswith("Found more than 2 rows")


@pytest.mark.parametrize("question,columns,rows", [
    ("which artist has the most albums?", NAME_COUNT, [("Iron Maiden", 21)]),
    ("which 3 genres have the most tracks?", NAME_COUNT, [("Rock", 1297), ("Latin", 579), ("Metal", 374)]),
    ("how many albums are there?", [Column("count", "int8")], [(347,)]),
])
def test_template_always_passes_the_check(question: str, columns: list[Column], rows: list[tuple[object, ...]]) -> None:
    assert check_summary(template_summary(question, columns, rows), question, columns, rows) == []


def test_check_accepts_sentences_backed_by_the_rows() -> None:
    rows = [("Iron Maiden", 21)]
    assert check_summary("Iron Maiden has the most albums, with 21.", "which artist has the most albums?", NAME_COUNT, rows) == []
    assert check_summary("There are 2 genres: Rock and Latin.", "genres", NAME_COUNT, [("Rock", 1), ("Latin", 2)]) == []
    assert check_summary("The average unit price is 1.04.", "average unit price?", [Column("a")], [(1.0392,)]) == []
    assert check_summary("There are 1,297 rock tracks.", "how many rock tracks?", [Column("c")], [(1297,)]) == []


def test_check_rejects_invented_numbers_and_names() -> None:
    rows = [("Iron Maiden", 21)]
    problems = check_summary("Led Zeppelin has the most albums, with 22.", "which artist has the most albums?", NAME_COUNT, rows)
    assert any("22" in p for p in problems)
    assert any("Led" in p or "Zeppelin" in p for p in problems)
    assert check_summary("The answer is 348.", "how many albums?", [Column("c")], [(347,)])


def test_model_sentence_is_cut_to_one_sentence() -> None:
    assert clean_model_sentence(" Iron Maiden has 21 albums. The next one is\nLed Zeppelin") == "Iron Maiden has 21 albums."
