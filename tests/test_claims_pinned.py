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
    # "adding BN may or may not break one of the networks (either generator or discriminator), hence leads to
    # collapse" (000, II.B), asked of the paper's own pair: BN added to D of #14 (G only), combined routine (#10)
    "3.1": [("onesided:combined-g", "onesided:combined-both", "fid", "higher", None, None, "treatment", "")],
    # "BN should be applied to both generator and discriminator" (000): G-only worse than both
    "3.3": [("onesided:combined-both", "onesided:combined-g", "fid", "higher", None, None, "", ""),
            ("onesided:separate-both", "onesided:separate-g", "fid", "higher", None, None, "", "")],
    # "G's BN is irrelevant" (001, footnote 1): equivalence within the image margin
    "3.7": [("onesided:combined-d", "onesided:combined-both", "fid", "same", 0.10, None, "", ""),
            ("onesided:separate-d", "onesided:separate-both", "fid", "same", 0.10, None, "", "")],
    # "the improvement is unnoticeable" (000, kernel size)
    "4.1": [("table2:2", "table2:7", "fid", "same", 0.10, None, "", "")],
    # "a divisible kernel (4) avoids them [checkerboard artifacts]" (004, after Odena et al.): lower than 3 and 5
    "4.4": [("kernel:k3-table1-transposed", "kernel:k4-table1-transposed", "checkerboard", "lower", None, None, "", ""),
            ("kernel:k5-table1-transposed", "kernel:k4-table1-transposed", "checkerboard", "lower", None, None, "", "")],
    # "A large batch size(128) tends to have minor negative impact" (000)
    "5.1": [("table2:7", "table2:11", "fid", "higher", None, None, "", ""),
            ("batch:images-16", "batch:images-128", "fid", "higher", None, None, "", "")],
    # "the overlapping area between the discriminator and generator is reducing as the batch size increases" (000)
    "5.2": [("batch:steps-16", "batch:steps-128", "loss_overlap", "lower", None, None, "", ""),
            ("batch:steps-8", "batch:steps-128", "loss_overlap", "lower", None, None, "", "")],
    # "The batch size will affect how the mini-batch mean/variance are estimated in BN layer" (000, II.D)
    "5.3": [("batch:steps-16", "batch:steps-128", "final_bn_gap", "lower", None, None, "", "")],
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
    # without BN the toy GAN fits and D's loss ends near ln 2 (001, Setting The Stage): nearer the data than G's
    # own noise, and D's loss within a tenth of ln 2
    "7.1": [("rule:the noise itself", "blindspot:no-bn", "mmd", "lower", None, None, "", ""),
            ("rule:ln 2", "blindspot:no-bn", "final_loss_d", "same", 0.10, None, "", "")],
    # the fix "fixes both" (001): the drift falls, the fit within half the no-BN MMD
    "7.7": [("blindspot:bn-shift", "blindspot:bn-joint-eval-shift", "shift_x", "lower", None, None, "", ""),
            ("blindspot:no-bn-shift", "blindspot:bn-joint-eval-shift", "mmd", "same", 0.5, None, "", "")],
    # "about 10% lower reconstruction error than the vanilla model" (002)
    "8.1": [("wn:vanilla", "wn:wn", "recon_mse", "lower", None, -0.10, "", "")],
    # "Though BN accelerates the training in the beginning, ... the use of BN can be unstable" (002, abstract):
    # faster than no normalization early, a larger late rise than WN
    "8.3": [("wn:vanilla", "wn:bn", "early_recon_mse", "lower", None, None, "", ""),
            ("wn:wn", "wn:bn", "recon_rise", "higher", None, None, "", "")],
    # "WN provides faster and more stable training than BN" (002, key findings)
    "8.4": [("wn:bn", "wn:wn", "early_recon_mse", "lower", None, None, "", ""),
            ("wn:bn", "wn:wn", "recon_rise", "lower", None, None, "", "")],
    # "Batch Normalization can cause instability ..., while vanilla GANs may collapse" (002, key findings)
    "8.6": [("wn:wn", "wn:bn", "recon_rise", "higher", None, None, "", ""),
            ("wn:wn", "wn:vanilla", "classes_covered", "lower", None, None, "treatment", "")],
    # the search "find[s] latent codes that minimize ||G(z)-x||^2" (002): on G's own images, within a tenth of a
    # search 5 times as long
    "9.1": [("rule:500 search steps", "rule:100 search steps", "recon_mse", "same", 0.10, None, "", "")],
    # a reconstruction objective punishes mode dropping (002, the metric's motivation)
    "9.3": [("heuristics:dcgan-bn", "routine:combined-nobn-16", "recon_mse", "higher", None, None, "treatment", ""),
            ("routine:combined-nobn-16", "rule:mean image", "recon_mse", "higher", None, None, "baseline", "")],
    # "reconstruction loss on a test set" (002): a memorizing G scores worse on held-out images
    "9.4": [("rule:training images", "rule:held-out images", "recon_mse", "higher", None, None, "", "")],
    # stable enough to track (002, "monitor GAN training progress"): two halves agree within a tenth
    "9.5": [("rule:first half", "rule:second half", "recon_mse", "same", 0.10, None, "", "")],
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
