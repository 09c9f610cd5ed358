"""The ledger: one row per paper sentence from its operationalisations, with scope, anchors and the paper's numbers."""
from __future__ import annotations

import html
from dataclasses import replace

import pytest

from mmprompts import claims as C
from mmprompts.claims import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS, Estimate

SCOPE = "the mini world (mini-clip on the procedural tasks, version 8; the mini recipe)"


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
    # a sentence of several operationalisations links to its combined box, a sentence of one to that one's box
    assert entropy.anchor == "05_vision_prompts.html#verdict-scope-entropy-combined"
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
    assert '<span class="mmp-badge mmp-contradicts">contradicts</span>' in page
    # one scope for every row: the ledger page says it once with its counts; two scopes: each row says its own
    assert SCOPE not in page
    other = C.sentence_rows([replace(verdict("count.more-prompts-help", SUPPORTS), scope="ViT-B/16, CoOp data"),
                             verdict("bias.beats-same-size-prompts", CONTRADICTS)])
    assert "Where this holds: ViT-B/16, CoOp data." in C.ledger_html(other) and SCOPE in C.ledger_html(other)


def test_a_verdict_box_carries_its_anchor_label_rule_and_scope():
    v = verdict("scope.distance", NOT_TESTABLE)
    box = v._repr_html_()
    assert 'id="verdict-scope-distance"' in box and "mmp-not-testable" in box
    assert "W prompt, under both conventions for the prompt keys" in box and SCOPE in box
    assert f'<span class="mmp-rule-label">Rule:</span> {html.escape(v.claim.rule)}' in box  # the rule with its threshold
    assert SCOPE not in v.box_html(scope=False)  # a page's strip says it once


NOTE = " Not testable on objects (the prompts did not learn: +1.1 ± 2.0 points over CLIP); land (x: −0.3 ± 6.0)."
LEFT = " Left out, as they did not learn (gain over zero-shot, needs > 0 beyond 2 SE): objects +1.1 ± 2.0, land −0.3 ± 6.0."


def test_page_notes_are_the_rules_notes_on_left_out_tasks():
    sentence = "Rises on 2 of 4 datasets (1.5 ± 0.2)." + NOTE + " Beyond every control."
    assert C.core.page_notes(sentence) == [NOTE]
    assert C.core.page_notes("A gap of 1.0 points." + LEFT) == [LEFT]
    assert C.core.without_notes(sentence, [NOTE]) == "Rises on 2 of 4 datasets (1.5 ± 0.2). Beyond every control."
    # the rules' own text: a rule given excluded datasets writes a note that page_notes finds
    ruled = C.decide_direction("relevancy.sos-increases", {"a": Estimate(1, 0.1), "b": Estimate(1, 0.1)}, +1, "x",
                               excluded={"b": "the prompts did not learn: +0.1 ± 0.3 points over CLIP"})
    assert C.core.page_notes(ruled.sentence) == [" Not testable on b (the prompts did not learn: +0.1 ± 0.3 points over CLIP)."]


def test_page_verdicts_strip_combined_box_and_notes_said_once():
    parts = [verdict("scope.entropy", SUPPORTS, "Within the margin on 2 of 3." + NOTE),
             verdict("scope.cls-entropy", CONTRADICTS, "Outside the margin." + NOTE),
             verdict("relevancy.category-decreases", SUPPORTS, "Falls: −2.5 ± 0.4. More text." + NOTE)]
    shown = C.PageVerdicts(tuple(parts), "05_vision_prompts")
    boxes, strip = shown._repr_html_(), shown.strip_html()
    # the combined box (decided by sentence_outcome) comes before its parts, with the anchor the ledger links to
    combined = C.sentence_rows(parts)[0]
    assert boxes.index(f'id="{combined.box_id}"') < boxes.index('id="verdict-scope-entropy"')
    assert f'mmp-combined mmp-{C.sentence_outcome(combined.parts)[0]} mathjax_process"' in boxes
    assert boxes.count('class="mmp-verdict ') == 4  # the combined box and the three verdicts
    # the sentence's words once, in the combined box; a part with words of its own quotes them
    quote = html.escape(parts[0].claim.quote)
    assert boxes.count(f"<q>{quote}</q>") == 1 and f"<q>{html.escape(parts[1].claim.quote)}</q>" in boxes
    # the strip: one line per sentence, its badge, a link to its box, the key result; the notes and scope once
    assert strip.count("<li>") == 2
    assert f'<span class="mmp-badge mmp-contradicts">contradicts</span> <a class="mmp-strip-name" href="#{combined.box_id}">' in strip
    assert "2 operationalisations: 1 supports, 1 contradicts" in strip and "Falls: −2.5 ± 0.4.</span>" in strip
    assert NOTE.strip() not in boxes and strip.count(NOTE.strip()) == 1 and strip.count(SCOPE) == 1
    assert SCOPE not in boxes


def test_a_sentence_many_boxes_share_is_said_once_above_them():
    gate = ("Inconclusive: the same rule did not recover its known answer on bias tuning (inconclusive), so it is "
            "not shown able to tell the two ways apart here (Sec. 3.2.1).")
    pair = "Decided per dataset: undecided: badges."
    parts = [verdict("mechanism.second-way", INCONCLUSIVE, gate + NOTE),
             verdict("mechanism.second-way-constant", INCONCLUSIVE, pair + " Gap 1.5 ± 0.2."),
             verdict("mechanism.second-way-text", INCONCLUSIVE, gate),
             verdict("mechanism.first-way", INCONCLUSIVE, pair + " " + gate + " Own 2.25."),
             verdict("scope.entropy", SUPPORTS, "Within the margin." + NOTE)]
    boxes = C.PageVerdicts(tuple(parts), "02_prompts_in_attention")._repr_html_()
    # said by three boxes: once, above every box, as note A; each of the three points to it and keeps its own words
    assert boxes.count(html.escape(gate)) == 1 and boxes.index(html.escape(gate)) < boxes.index('class="mmp-verdict ')
    assert boxes.count("See note A above the boxes.") == 3
    assert "Decided per dataset: undecided: badges. See note A above the boxes. Own 2.25." in boxes
    # said by two boxes only: each says it (a reading's own result); the page's notes on left-out tasks are not lettered
    assert boxes.count(pair) == 2 and "Note B" not in boxes and NOTE.strip() not in boxes
    assert C.ledger.decision_sentences("A (Sec. 3.2.1). B; e.g. C. D") == ["A (Sec. 3.2.1).", "B; e.g. C.", "D"]
    # the strip: a key result two lines share, once under the lines as a note they point to
    choice = "Inconclusive: the outcome depends on keeping the EuroSAT stand-in, a choice of this book."
    lines = [verdict("relevancy.category-decreases", INCONCLUSIVE, choice), verdict("relevancy.prompts-increase", INCONCLUSIVE, choice),
             verdict("relevancy.sos-increases", INCONCLUSIVE, "Rises on 1 of 3 datasets.")]
    strip = C.PageVerdicts(tuple(lines), "03_alignment_contribution").strip_html()
    assert strip.count(html.escape(choice)) == 1 and strip.count("See note A below.") == 2
    assert strip.index("See note A below.") < strip.index('<span class="mmp-label">Note A.</span>')
    assert "Rises on 1 of 3 datasets." in strip  # a key result of its own stays on its line
    # nothing repeated: no notes block
    assert "mmp-verdict-notes" not in C.PageVerdicts(tuple(parts[:2]), "02_prompts_in_attention")._repr_html_()


def test_report_fills_in_the_strip_of_the_page_header(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core import display_functions

    updates = []
    monkeypatch.setattr("IPython.get_ipython", lambda: InteractiveShell)  # a kernel is running
    monkeypatch.setattr(display_functions, "display", lambda obj, **kw: updates.append((obj, kw)))
    C.report("01_zero_shot", [verdict("scope.distance", NOT_TESTABLE)])
    (obj, kw), = updates
    assert kw == {"display_id": C.ledger.strip_display_id("01_zero_shot"), "update": True}
    assert "What this page finds" in obj.data and "#verdict-scope-distance" in obj.data


def test_the_book_summary_counts_the_sentences_and_links_them():
    rows = C.sentence_rows([verdict("mechanism.second-way", CONTRADICTS), verdict("mechanism.second-way-constant", CONTRADICTS),
                            verdict("mechanism.second-way-text", SUPPORTS), verdict("mechanism.first-way", SUPPORTS),
                            verdict("bias.beats-same-size-prompts", SUPPORTS), verdict("formulation.identities", SUPPORTS)])
    summary = C.book_summary_html(rows)
    assert ("3 sentences the paper asserts: 3 decided here (2 supported, 1 contradicted), 0 tested without a decision "
            "(inconclusive), 0 not testable here" in summary)
    # only supports and contradicts count as decided
    assert C.counts_sentence({SUPPORTS: 1, INCONCLUSIVE: 4, "not testable": 2}).startswith(
        "7 sentences the paper asserts: 1 decided here (1 supported, 0 contradicted), 4 tested without a decision")
    assert ('<span class="mmp-badge mmp-contradicts">contradicts</span> The paper\'s conclusion' in summary
            and 'href="executed/02_prompts_in_attention.html#verdict-mechanism-second-way-combined"' in summary)
    assert 'href="executed/06_bias_vs_prompts.html#verdict-bias-beats-same-size-prompts"' in summary
    assert summary.count(SCOPE) == 1 and "Check" not in summary  # checks of the implementation are not the paper's
    assert "Hypothesis 1" not in summary  # a hypothesis the paper rejects is not counted as one it asserts


def test_report_stamps_the_scope(monkeypatch, tmp_path):
    monkeypatch.setenv(C.VERDICTS_ENV, str(tmp_path))
    C.report("07_sensitivity", [C.decide_more_prompts_help({"a": {1: Estimate(70, 0.1), 4: Estimate(75, 0.1)}},
                                                           {"a": Estimate(10, 1)})], scope=SCOPE)
    assert C.load_verdicts(tmp_path)[0].scope == SCOPE


def test_rule_numbers_list_every_number_a_verdict_quotes():
    verdict = C.decide_zero_shot_weak({"a": 40.0, "e": 40.2, "b": 60.0, "c": 58.0},
                                      {"a": "eurosat", "e": "dtd", "b": "imagenet", "c": "caltech101"})
    rows = {r["value"]: r["this build"] for r in C.rule_numbers([verdict])}
    # in a reader's words: no library names, no "+" on a plain mean, 2 decimals at 10 and above
    assert rows["gap"].startswith("\u221218.90 ± ") and rows["mean, datasets far from web photos"].startswith("40.10 ± ")
    assert rows["mean, the other datasets"].startswith("59.00")
    assert C.ledger._reader_label(["left_out", "land"]) == "left out (did not learn): land"
    assert C.ledger._reader_label(["some_new_key"]) == "some new key"
    assert "\u221218.9" in verdict.sentence and "59.0%" in verdict.sentence  # the sentence quotes what the table shows


def test_strip_key_result_keeps_every_number_whole():
    from mmprompts.claims.ledger import key_sentence as _first_sentence

    numbers = ("Normalised similarity to CLIP's (1 identical, 0 unrelated): badges 0.90, textures 0.83, places 0.88, "
               "land 0.30; kept (≥ 0.5 beyond 2 SE) on 3 of 4 datasets; and much more said after it. A second sentence.")
    shown = _first_sentence(numbers, limit=120)
    # whole clauses only: the first clause (with land's 0.30) even beyond the limit, the rest cut at a "; "
    assert shown.startswith(numbers.split(";")[0] + ";") and shown.endswith("; …") and "0.30" in shown
    assert _first_sentence(numbers, limit=60) == numbers.split(";")[0] + "; …"
    long_clause = "Rises beyond 2 SE on 4 (badges, textures, places and land) of 4 datasets and the other way on none."
    assert _first_sentence(long_clause, limit=40) == long_clause  # one clause: never cut
    assert _first_sentence("Short. Then more.") == "Short."
    # the paper's abbreviations end no sentence: the strip said "…, which App." and stopped
    abbreviated = "Inconclusive: it depends on keeping the stand-in, which App. E leaves out (Sec. 3.2 too). Then more."
    assert _first_sentence(abbreviated) == abbreviated.removesuffix(" Then more.")


def test_notes_that_open_alike_are_said_once():
    from mmprompts.claims.ledger import said_once

    lead = "Left out, as they did not learn (gain over zero-shot, needs > 0 beyond 2 SE): "
    notes = [" " + lead + "objects +1.0 ± 3.2.", " " + lead + "objects +1.0 ± 3.1, land +0.2 ± 1.0.",
             " Not testable on b (did not learn)."]
    assert said_once(notes) == [lead + "objects +1.0 ± 3.2, land +0.2 ± 1.0.", "Not testable on b (did not learn)."]
