"""Stories from the official CLUTRR CSV format (Sinha et al. 2019), as ``stories.Story`` records without a tree.

Columns ``story``, ``query`` and ``target`` are required; ``f_comb`` ("father-sister-...") gives the edge words and k,
``genders`` ("Alice:female,Bob:male") the genders. Every error names the file and the line of the bad record.
"""
from __future__ import annotations

import ast
import csv
import io
import os
import re
from pathlib import Path

from .stories import Story

_BRACKETED = re.compile(r"\[([^\]]+)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def load_csv(path: str | os.PathLike) -> list[Story]:
    """Stories from a file in the official CLUTRR CSV format (columns ``story``, ``query``, ``target`` required;
    ``f_comb`` "father-sister-..." gives the edge words and k, ``genders`` "Alice:female,Bob:male" the genders).

    Names are bracketed in the official story ("[Alice] went ..."); the brackets are removed and the names kept in
    ``people``. The query column is a Python tuple literal "('Alice', 'Bob')". Without ``f_comb``, k is the
    number of sentences. No tree is attached.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path {path} does not exist")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a CLUTRR CSV file")
    data = path.read_bytes()
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as error:  # name the line of the first bad byte, not of the decoder's buffer
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(f"{path} line {line}: not UTF-8 text (byte "
                         f"{data[error.start]:#04x} at offset {error.start}); save the file as UTF-8") from None
    stories = []
    reader = csv.DictReader(io.StringIO(decoded, newline=""))
    line = 1  # where the record being read starts (csv does not count the lines of a record it fails on)
    try:
        fieldnames = reader.fieldnames
        missing = {"story", "query", "target"} - set(fieldnames or ())
        if missing:
            raise ValueError(f"{path} line 1: lacks the CLUTRR column(s) {sorted(missing)}; found {fieldnames}")
        while True:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            stories.append(_story_from_row(row, f"{path} line {reader.line_num}"))
    except csv.Error as error:  # e.g. a field over csv.field_size_limit()
        raise ValueError(f"{path} line {line}: malformed CSV ({error})") from None
    return stories


def _story_from_row(row: dict, where: str) -> Story:
    """One CSV row -> a Story; every error starts with ``where`` ("<file> line <n>")."""
    if any(row.get(column) is None for column in ("story", "query", "target")):
        raise ValueError(f"{where}: the row has fewer fields than the header (story, query and target are needed)")
    try:
        query = ast.literal_eval(row["query"])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"{where}: query must look like \"('Alice', 'Bob')\", got {row['query']!r}") from None
    if not (isinstance(query, tuple) and len(query) == 2 and all(isinstance(q, str) and q.strip() for q in query)):
        raise ValueError(f"{where}: query must be a pair of names, got {row['query']!r}")
    text = row["story"].strip()
    people = tuple(dict.fromkeys(_BRACKETED.findall(text)))
    plain = _BRACKETED.sub(r"\1", text)
    sentences = tuple(s.strip() for s in _SENTENCE_END.split(plain) if s.strip())
    if not sentences:
        raise ValueError(f"{where}: the story is empty")
    absent = [name for name in query if name not in people and re.search(
        rf"(?<!\w){re.escape(name)}(?!\w)", plain) is None]
    if absent:
        raise ValueError(f"{where}: the query names {absent} do not occur in the story {text[:80]!r}")
    if not row["target"].strip():
        raise ValueError(f"{where}: the target relation is empty")
    relations = tuple(w for w in (row.get("f_comb") or "").split("-") if w)
    # "father-in-law" splits into "father", "in", "law" above: rejoin the "-in-law" parts
    joined = []
    for word in relations:
        if word in ("in", "law") and joined:
            joined[-1] += "-" + word
        else:
            joined.append(word)
    genders = {}
    for item in (row.get("genders") or "").split(","):
        if ":" in item:
            name, gender = item.split(":", 1)
            genders[name.strip()] = gender.strip()
    people = tuple(dict.fromkeys(people + tuple(query)))
    return Story(sentences, tuple(query), row["target"].strip(), len(joined) if joined else len(sentences), people,
                 tuple(joined), (), None, genders)
