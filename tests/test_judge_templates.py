"""Judge templates: every shipped template loads, declares its parser and renders, with and without references."""

from __future__ import annotations

import pytest

from referee import schema
from referee.errors import InputError
from referee.judging import templates as T
from referee.judging.templates import available, load, parse_template

SHIPPED = ("pairwise", "pairwise-graded", "pointwise-10", "pairwise-reference", "pairwise-logprob")
PAIR = {"prompt": "What is 17 * 3?", "response_a": "It is 51.", "response_b": "It is 41."}


def test_the_required_templates_ship_with_descriptions():
    names = available()
    assert set(SHIPPED) <= set(names)
    assert all(desc for desc in names.values())


def test_winner_labels_match_the_schema():
    assert schema.WINNERS == T.WINNERS
    assert (schema.MODEL_A, schema.MODEL_B, schema.TIE, schema.TIE_BOTHBAD) == (T.MODEL_A, T.MODEL_B, T.TIE, T.TIE_BOTHBAD)


@pytest.mark.parametrize("name", SHIPPED)
def test_each_template_declares_a_usable_parser(name):
    t = load(name)
    assert t.kind in ("pairwise", "pointwise") and t.parser in ("regex", "logprob")
    if t.parser == "regex":
        assert t.patterns and all(p.groups == 1 for p in t.compiled)
    if t.kind == "pairwise":
        assert {w for w, _ in t.labels.values()} >= {"model_a", "model_b"}
    else:
        assert t.scale == (1, 10)


@pytest.mark.parametrize("name", ["pairwise", "pairwise-graded", "pairwise-logprob"])
def test_pairwise_templates_render_system_and_user_messages(name):
    msgs = load(name).render(**PAIR)
    assert [r for r, _ in msgs] == ["system", "user"]
    system, user = msgs[0][1], msgs[1][1]
    assert "What is 17 * 3?" in user and "It is 51." in user and "It is 41." in user
    assert user.index("It is 51.") < user.index("It is 41.")  # A is shown first
    assert "{{" not in system + user and "{%" not in system + user and "referee:" not in system + user


def test_reference_guided_template_gets_the_reference_and_refuses_without_one():
    t = load("pairwise-reference")
    assert t.reference == "required"
    user = t.render(**PAIR, reference="17 * 3 = 51")[-1][1]
    assert "17 * 3 = 51" in user
    with pytest.raises(InputError, match="needs a reference"):
        t.render(**PAIR)


def test_pointwise_template_shows_a_reference_only_when_there_is_one():
    t = load("pointwise-10")
    assert t.reference == "optional"
    with_ref = "\n".join(c for _, c in t.render(prompt="Q?", response="R.", reference="GOLD"))
    without = "\n".join(c for _, c in t.render(prompt="Q?", response="R."))
    assert "GOLD" in with_ref and "reference" in with_ref.lower()
    assert "reference" not in without.lower() and "None" not in without
    assert "Q?" in without and "R." in without


def test_logprob_template_asks_for_one_token_with_logprobs():
    t = load("pairwise-logprob")
    assert t.parser == "logprob" and t.max_tokens == 1 and t.logprobs and t.top_logprobs >= 5


def test_a_user_template_from_a_path_with_yaml_front_matter(tmp_path):
    path = tmp_path / "mine.j2"
    path.write_text(
        "---\nkind: pairwise\nparser: regex\npattern: 'WINNER: (one|two|draw)'\n"
        "labels: {one: model_a, two: model_b, draw: tie}\nmax_tokens: 64\n---\n"
        "Q: {{ prompt }}\nONE: {{ response_a }}\nTWO: {{ response_b }}\n"
    )
    t = load(str(path))
    assert t.name == "mine" and t.max_tokens == 64
    msgs = t.render(**PAIR)
    assert msgs == (("user", "Q: What is 17 * 3?\nONE: It is 51.\nTWO: It is 41."),)


def test_a_graded_label_carries_its_strength():
    t = load("pairwise-graded")
    assert t.graded
    assert t.labels["A>>B"] == ("model_a", 2) and t.labels["B>A"] == ("model_b", 1) and t.labels["A=B"] == ("tie", 0)


def test_labels_that_differ_by_case_only_are_case_sensitive():
    t = parse_template("{# referee:\nkind: pairwise\nparser: logprob\nlabels: {m: model_a, M: model_b}\n#}\n{{ prompt }}")
    assert t.case_sensitive
    assert not load("pairwise").case_sensitive


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter {{ prompt }}", "no front matter"),
        ("{# referee:\nkind: pairwise\nparser: regex\npattern: '(unclosed'\nlabels: {A: model_a}\n#}\nx", "invalid regex"),
        ("{# referee:\nkind: pairwise\nparser: regex\npattern: '(A)'\n#}\nx", "needs labels"),
        ("{# referee:\nkind: pairwise\nparser: regex\npattern: '(A)'\nlabels: {A: winner_a}\n#}\nx", "maps to"),
        ("{# referee:\nkind: pointwise\nparser: regex\npattern: '(\\d+)'\n#}\nx", "scale"),
        ("{# referee:\nkind: pairwise\nparser: magic\nlabels: {A: model_a}\n#}\nx", "parser must be"),
        ("{# referee:\nkind: pairwise\nparser: logprob\nlabels: {A: model_a}\ncolour: red\n#}\nx", "unknown front-matter"),
        ("{# referee:\nkind: [unclosed\n#}\nx", "not valid YAML"),
    ],
)
def test_bad_templates_are_refused_with_a_clear_message(text, message):
    with pytest.raises(InputError, match=message):
        parse_template(text, name="bad")


def test_jinja_syntax_errors_are_input_errors():
    t = parse_template("{# referee:\nkind: pairwise\nparser: logprob\nlabels: {A: model_a, B: model_b}\n#}\n{% if %}")
    with pytest.raises(InputError, match="syntax"):
        t.render(**PAIR)


def test_an_unknown_template_name_lists_the_shipped_ones():
    with pytest.raises(InputError, match="pairwise-graded"):
        load("no-such-template")
