"""One definition of text length (referee.text) and its four consumers.

Style control (``text_counts``), the LC win rate (``lc.text_lengths``), the audit's length
analysis (``audit.rows.lengths``) and the ``length`` scorer must give the same numbers for
the same texts: tokens = ``len(t.split())``, characters = ``len(t)``.
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from referee.auditing.rows import lengths as audit_lengths
from referee.errors import InputError
from referee.ranking.lc import text_lengths as lc_lengths
from referee.ranking.style import text_counts
from referee.scoring.length import LengthScorer
from referee.text import count_tokens, joined_utf8, text_lengths

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WHITESPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]

TRICKY = [
    "  Hello, world!  Two\n\twords ",
    "",
    None,
    "one",
    " ",
    "héllo wörld 你好",
    "e\u0301 composed é",  # decomposed é counts 2 code points, composed 1: no normalisation
    "non\xa0breaking and ideographic\u3000space",
    "line\u2028separator\u2029paragraph\x85next",
    "\x00nul\x01and\x1bescape\x7fdel are word characters",
    "file\x1cgroup\x1drecord\x1eunit\x1fseparators split",
    "tabs\tand\r\nCRLF\x0bvt\x0cff",
    "emoji 😀👍🏽 and \u200bzero-width (not whitespace)",
    "trailing lead byte é",
    "\xa0",
]


def _python(texts: list[str | None]) -> tuple[list[int], list[int]]:
    return [len((t or "").split()) for t in texts], [len(t or "") for t in texts]


def test_definition_matches_python_split_and_len():
    tokens, chars = _python(TRICKY)
    assert text_lengths(TRICKY, "tokens").tolist() == tokens
    assert text_lengths(TRICKY, "chars").tolist() == chars
    assert tokens[6:9] == [3, 5, 4] and chars[6] == 13
    assert text_lengths([], "tokens").size == 0


def test_every_whitespace_code_point_and_random_unicode():
    rng = np.random.default_rng(1)
    alphabet = [*WHITESPACE, *"ab-.", "\x00", "\x08", "\x0e", "\x1b", "\x7f", "é", "你", "😀", "\u0301", "\u200b",
                "\u2060", "\u0900", "\u2010", "\u3001"]
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 25))) for _ in range(20_000)]
    texts += [f"a{w}b" for w in WHITESPACE] + WHITESPACE + [None]
    tokens, chars = _python(texts)
    np.testing.assert_array_equal(text_lengths(texts, "tokens"), tokens)
    np.testing.assert_array_equal(text_lengths(texts, "chars"), chars)
    buf, starts, _ = joined_utf8(texts)  # the buffer style control scans for markdown
    np.testing.assert_array_equal(count_tokens(buf, starts), tokens)


def test_chunks_and_threads_do_not_change_counts():
    texts = [f"w{i} " * (i % 7) + "\xa0x" for i in range(120_000)]  # three chunks of 50,000
    one = text_lengths(texts, "tokens", workers=1)
    np.testing.assert_array_equal(one, text_lengths(pd.Series(texts), "tokens", workers=4))
    np.testing.assert_array_equal(one, [len(t.split()) for t in texts])


def test_the_four_consumers_agree():
    texts = TRICKY
    tokens, chars = _python(texts)
    style = text_counts(pd.Series(texts, dtype=object))
    assert style["tokens"].tolist() == tokens and style["chars"].tolist() == chars
    assert lc_lengths(pd.Series(texts), "tokens").tolist() == tokens
    assert lc_lengths(pd.Series(texts), "chars").tolist() == chars
    assert LengthScorer("tokens").score([""] * len(texts), texts).tolist() == tokens
    assert LengthScorer("chars").score([""] * len(texts), texts).tolist() == chars
    df = pd.DataFrame({"response_a": texts, "response_b": list(reversed(texts))})
    la, lb = audit_lengths(df)
    missing = np.array([t is None for t in texts])
    assert np.isnan(la[missing]).all()  # the audit tells a missing response from an empty one
    np.testing.assert_array_equal(la[~missing], np.array(chars)[~missing])
    np.testing.assert_array_equal(lb, audit_lengths(df[["response_b"]].rename(columns={"response_b": "response_a"}))[0])


def test_unit_errors():
    with pytest.raises(InputError, match="tokens' or 'chars"):
        text_lengths(["a"], "words")
    with pytest.raises(InputError, match="length"):
        lc_lengths(pd.Series(["a"]), "words")


def test_tokenizer_counts_each_distinct_text_once():
    calls: list[str] = []

    def tok(t: str) -> list[str]:
        calls.append(t)
        return list(t)

    assert text_lengths(["ab", "ab", None, "xyz"], "tokens", tokenizer=tok).tolist() == [2, 2, 0, 3]
    assert sorted(calls) == ["", "ab", "xyz"]


def test_real_model_outputs_match_python():
    """Every AlpacaEval 2 reference answer (real Unicode: quotes, dashes, NBSP, CJK, emoji)."""
    path = DATA / "alpaca_eval" / "results" / "gpt4_1106_preview" / "model_outputs.json.xz"
    if not path.is_file():
        pytest.skip(f"AlpacaEval data not found at {path}")
    with lzma.open(path, "rt") as fh:
        texts = [r["output"] for r in json.load(fh)]
    tokens, chars = _python(texts)
    np.testing.assert_array_equal(text_lengths(texts, "tokens"), tokens)
    np.testing.assert_array_equal(text_lengths(texts, "chars"), chars)
    np.testing.assert_array_equal(text_counts(texts)["tokens"], tokens)
