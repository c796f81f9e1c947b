"""Every check's prediction, pinned from the sources' own words: which arm against which, on
what metric, the predicted direction, and the margin, size or gate exemption it carries. A
change to a claim's reading must change this table too, on purpose."""

from __future__ import annotations

import pytest

from bngan import claims

#: key -> [(baseline, treatment, metric, expect, margin, size, may_fail, must_learn)], each with the
#: source's words it reads.
PINNED = {
    # "adding BN layers leads to model collapse" (000, abstract): worse FID with BN, combined batches
    "1.1": [("heuristics:fig1-no-bn", "heuristics:fig1-bn", "fid", "higher", None, None, "treatment", "")],
    # "our model works very with BN layers and received a quality enhancement" (000)
    "1.2": [("heuristics:fig1-bn", "heuristics:dcgan-bn", "fid", "lower", None, None, "", ""),
            ("heuristics:no-bn", "heuristics:dcgan-bn", "fid", "lower", None, None, "", ""),
            ("heuristics:no-bn", "heuristics:dcgan-bn", "recon_mse", "lower", None, None, "", "")],
    # "Adding noise to labels only has minor impact" (000): equivalence within the image margin
    "2.1": [("table2:1", "table2:2", "fid", "same", 0.10, None, "", ""),
            ("table2:3", "table2:4", "fid", "same", 0.10, None, "", "")],
    # "BN should be applied to both generator and discriminator" (000): G-only worse than both
    "3.3": [("onesided:combined-both", "onesided:combined-g", "fid", "higher", None, None, "", ""),
            ("onesided:separate-both", "onesided:separate-g", "fid", "higher", None, None, "", "")],
    # "G's BN is irrelevant" (001, footnote 1): equivalence within the image margin
    "3.7": [("onesided:combined-d", "onesided:combined-both", "fid", "same", 0.10, None, "", ""),
            ("onesided:separate-d", "onesided:separate-both", "fid", "same", 0.10, None, "", "")],
    # "the improvement is unnoticeable" (000, kernel size)
    "4.1": [("table2:2", "table2:7", "fid", "same", 0.10, None, "", "")],
    # "A large batch size(128) tends to have minor negative impact" (000)
    "5.1": [("table2:7", "table2:11", "fid", "higher", None, None, "", ""),
            ("batch:images-16", "batch:images-128", "fid", "higher", None, None, "", "")],
    # "BN is not effective for small batches" (001): no gain of a tenth, and the no-BN arm must learn
    "5.6": [("batch:no-bn-16", "batch:steps-16", "fid", "no better", 0.10, None, "", "baseline")],
    # "without BN both routines converge" (000): each no-BN routine learns and fits as well
    "6.3": [("routine:separate-bn-16", "routine:separate-nobn-16", "fid", "same", 0.10, None, "", "treatment"),
            ("routine:separate-bn-16", "routine:combined-nobn-16", "fid", "same", 0.10, None, "", "treatment")],
    # D's gradients "near zero" under the combined routine (000, Figure 6): a -90% change
    "6.4": [("routine:separate-bn-128", "routine:combined-bn-128", "final_grad_d_bottom", "lower", None, -0.9,
             "treatment", ""),
            ("routine:separate-bn-16", "routine:combined-bn-16", "final_grad_d_bottom", "lower", None, -0.9,
             "treatment", "")],
    # "Tuning the G:D step ratio is futile" (003): no ratio gains a tenth
    "6.6": [("routine:separate-bn-16", "routine:g2", "fid", "no better", 0.10, None, "", ""),
            ("routine:separate-bn-16", "routine:g5", "fid", "no better", 0.10, None, "", "")],
    # the fix "fixes both" (001): the drift falls, the fit within half the no-BN MMD
    "7.7": [("blindspot:bn-shift", "blindspot:bn-joint-eval-shift", "shift_x", "lower", None, None, "", ""),
            ("blindspot:no-bn-shift", "blindspot:bn-joint-eval-shift", "mmd", "same", 0.5, None, "", "")],
    # "about 10% lower reconstruction error than the vanilla model" (002)
    "8.1": [("wn:vanilla", "wn:wn", "recon_mse", "lower", None, -0.10, "", "")],
}


def pinned(check):
    return (check.baseline, check.treatment, check.metric, check.expect, check.margin, check.size, check.may_fail,
            check.must_learn)


@pytest.mark.parametrize("key", sorted(PINNED))
def test_each_claims_prediction_is_the_one_its_source_makes(key):
    claim = next(c for c in claims.CLAIMS if c.key == key)
    assert [pinned(check) for check in claim.checks] == PINNED[key]


def test_the_margins_are_a_tenth_on_images_and_half_on_the_toy_data_and_say_why():
    assert (claims.IMAGE_MARGIN, claims.TOY_MARGIN) == (0.10, 0.5)
    assert "trivial" in claims.IMAGE_MARGIN_WHY and "scatter plots" in claims.TOY_MARGIN_WHY


def test_claims_of_one_effect_under_conditions_are_marked_and_the_rest_are_conjunctions():
    conditions = {c.key for c in claims.CLAIMS if c.combine == "conditions"}
    assert conditions == {"2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "3.2", "3.3", "3.7", "4.2", "5.1", "5.4", "6.1",
                          "6.4"}
    for claim in claims.CLAIMS:
        if claim.key in conditions:
            assert len({check.condition for check in claim.checks}) == len(claim.checks) > 1, claim.key
