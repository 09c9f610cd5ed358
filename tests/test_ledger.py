"""The ledger: one row per paper sentence from its operationalisations, with scope, anchors and the paper's numbers."""
from __future__ import annotations

from dataclasses import replace

import pytest

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Estimate

SCOPE = "mini world (mini-clip, world v8, mini recipe)"


def verdict(claim_id, outcome, sentence="numbers"):
    return replace(C.Verdict(C.CLAIMS[claim_id], outcome, sentence), scope=SCOPE)


@pytest.mark.parametrize("outcomes, combined", [
    ([SUPPORTS, SUPPORTS], SUPPORTS),
    ([SUPPORTS, CONTRADICTS], CONTRADICTS),
    ([SUPPORTS, INCONCLUSIVE], INCONCLUSIVE),
    ([SUPPORTS, NOT_TESTABLE], SUPPORTS),        # a part whose precondition fails is set aside
    ([NOT_TESTABLE, NOT_TESTABLE], NOT_TESTABLE),
])
def test_a_sentence_is_decided_from_its_testable_parts(outcomes, combined):
    ids = ["scope.distance-renormalised", "scope.distance"]
    outcome, why = C.sentence_outcome([verdict(i, o) for i, o in zip(ids, outcomes)])
    assert outcome == combined
    assert ("disagree" in why) == (len({o for o in outcomes if o != NOT_TESTABLE}) > 1)
    assert ("Set aside (not testable here): W prompt, under both conventions for the prompt keys" in why) == (
        outcomes[1] == NOT_TESTABLE and combined != NOT_TESTABLE)


def test_rows_group_operationalisations_of_one_sentence_and_keep_the_page_order():
    verdicts = [verdict("formulation.identities", SUPPORTS), verdict("scope.entropy", SUPPORTS),
                verdict("scope.cls-entropy", CONTRADICTS), verdict("relevancy.category-decreases", SUPPORTS)]
    rows = C.sentence_rows(verdicts)
    assert [r.kind for r in rows] == ["check", "claim", "claim"]
    entropy = rows[1]
    assert len(entropy.parts) == 2 and entropy.outcome == CONTRADICTS and entropy.scope == SCOPE
    # a sentence with several operationalisations links to its combined box, which lists and links each part
    assert entropy.anchor == "05_vision_prompts.html#" + C.sentence_anchor(entropy.name)
    box = entropy._repr_html_()
    assert f'id="{C.sentence_anchor(entropy.name)}"' in box and 'href="#verdict-scope-cls-entropy"' in box
    assert box.count("mmp-badge") == 2 and "mmp-contradicts" in box
    assert rows[2].anchor == "03_alignment_contribution.html#verdict-relevancy-category-decreases"
    counts = C.ledger_counts(rows)
    assert counts == {SCOPE: {CONTRADICTS: 1, SUPPORTS: 1}}


@pytest.mark.parametrize("outcomes, combined", [
    ([SUPPORTS, SUPPORTS], SUPPORTS),
    ([SUPPORTS, CONTRADICTS], INCONCLUSIVE),   # readings disagree: no veto by one reading
    ([CONTRADICTS, NOT_TESTABLE], CONTRADICTS),
])
def test_readings_of_one_sentence_that_disagree_leave_it_depending_on_the_reading(outcomes, combined):
    ids = ["mechanism.second-way", "mechanism.second-way-constant"]
    outcome, why = C.sentence_outcome([verdict(i, o) for i, o in zip(ids, outcomes)])
    assert outcome == combined
    if combined == INCONCLUSIVE:
        assert why == ("Depends on the reading: the second way as the added term, per input: supports; "
                       "the second way as a term fixed across inputs: contradicts.")


def test_each_tower_is_a_sentence_of_its_own():
    rows = C.sentence_rows([verdict("mechanism.second-way", SUPPORTS), verdict("mechanism.second-way-text", SUPPORTS),
                            verdict("mechanism.second-way-image", CONTRADICTS)])
    assert [r.name for r in rows] == ["Prompts work mainly as a dataset bias", "Text prompts work by learning dataset biases",
                                      "Visual prompts also act as dataset bias"]


def test_the_ledger_counts_only_sentences_the_paper_asserts():
    rows = C.sentence_rows([verdict("mechanism.second-way", SUPPORTS), verdict("mechanism.first-way", SUPPORTS),
                            verdict("mechanism.both-ways", CONTRADICTS), verdict("mechanism.known-first-way", SUPPORTS)])
    assert [r.position for r in rows] == ["asserts", "rejects", "rejects", "asserts"]
    assert C.ledger_counts(rows) == {SCOPE: {SUPPORTS: 1}}


def test_the_ledger_html_links_each_row_to_its_verdict_and_shows_the_paper_numbers():
    rows = C.sentence_rows([verdict("bias.beats-same-size-prompts", CONTRADICTS, "bias − prompts = −4.98"),
                            verdict("count.more-prompts-help", SUPPORTS)])
    on_paper = verdict("bias.beats-same-size-prompts", SUPPORTS, "on the paper: +1.7")
    page = C.ledger_html(rows, {"bias.beats-same-size-prompts": on_paper})
    assert page.index("Sec. 3.4") < page.index("Sec. 3.5")  # grouped by the paper's sections, in order
    assert 'href="06_bias_vs_prompts.html#verdict-bias-beats-same-size-prompts"' in page
    assert "On the paper's own numbers" in page and "on the paper: +1.7" in page
    assert page.count("On the paper's own numbers") == 1  # Table 3's count claim has no paper verdict given here
    assert '<span class="mmp-badge mmp-contradicts">contradicts</span>' in page and SCOPE in page


def test_a_verdict_box_carries_its_anchor_label_and_scope():
    box = verdict("scope.distance", NOT_TESTABLE)._repr_html_()
    assert 'id="verdict-scope-distance"' in box and "mmp-not-testable" in box
    assert "W prompt, under both conventions for the prompt keys" in box and SCOPE in box


def test_report_stamps_the_scope(monkeypatch, tmp_path):
    monkeypatch.setenv(C.VERDICTS_ENV, str(tmp_path))
    C.report("07_sensitivity", [C.decide_more_prompts_help({"a": {1: Estimate(70, 0.1), 4: Estimate(75, 0.1)}},
                                                           {"a": Estimate(10, 1)})], scope=SCOPE)
    assert C.load_verdicts(tmp_path)[0].scope == SCOPE


def test_rule_numbers_list_every_number_a_verdict_quotes():
    verdict = C.decide_zero_shot_weak({"a": 40.0, "b": 60.0, "c": 58.0}, {"a": 500, "b": 500, "c": 500},
                                      {"a": "eurosat", "b": "imagenet", "c": "caltech101"})
    rows = {r["value"]: r["this build"] for r in C.rule_numbers([verdict])}
    assert rows["gap"].startswith("\u221219.000 ± ") and rows["shifted_mean"].startswith("+40.000")
    assert rows["others_mean"].startswith("+59.000")
    assert "\u221219.0" in verdict.sentence and "59.0%" in verdict.sentence  # the sentence quotes what the table shows
