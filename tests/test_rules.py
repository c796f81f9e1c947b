"""Every claim gets a word: the claims that are not a comparison of two registered experiments
are decided by a rule (:mod:`bngan.rules`) whose computed arms the ledger reads with its own
tests, in the same book-wide correction on every page; a rule whose runs are not there yet
says so instead of crashing."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pytest
import torch

from bngan import claims, cli, experiments, ledger, results, rules, stats, trainer, workers
from bngan.evidence import rule_records
from bngan.metrics import reconstruction_error

CLAIM = {c.key: c for c in claims.CLAIMS}
FORMER_ELSEWHERE = ("3.1", "4.4", "5.2", "5.3", "7.1", "7.4", "8.3", "8.4", "8.6", "9.1", "9.3", "9.4", "9.5")


def toy_runs(label, by_seed, name="blindspot:no-bn"):
    """A run set of a registered toy experiment with made-up final metrics (no files)."""
    runs = [NS(seed=s, metrics=m, status="complete", path=None, steps_done=1) for s, m in by_seed.items()]
    return experiments.RunSet(label, experiments.get_experiment(name, "smoke"), runs)


def test_every_claim_of_the_book_is_a_ledger_claim_with_a_rule_where_it_needs_one():
    assert claims.ELSEWHERE == ()
    assert set(FORMER_ELSEWHERE) <= set(CLAIM)
    for claim in claims.CLAIMS:
        computed = [n for c in claim.checks for n in claims._arm_names(c) if n.startswith(claims.RULE_ARM)]
        assert bool(computed) <= bool(claim.rule), claim.key
        if claim.rule:
            assert claim.rule in rules.RULES, claim.key
            assert "rules." + claim.rule in claim.note, claim.key  # the note names the rule a reader can read
    with pytest.raises(ValueError, match="no rule to compute them"):
        claims.Claim("9.9", "x", "s", 9, (claims.Check("rule:a", "table2:1"),))
    with pytest.raises(ValueError, match="arm must name a rule's result"):
        claims.Exact("split")


# --------------------------------------------------------------------------- 7.4, exact


def test_the_split_identity_holds_for_split_and_joint_normalization():
    found = rules.split_identity(CLAIM["7.4"], {}, None, draws=200)
    assert found["rule:split"].holds and found["rule:joint"].holds
    verdict = ledger.evaluate([CLAIM["7.4"]], profile="smoke", train=False)[0]
    assert verdict.verdict == "reproduced" and "largest difference" in verdict.numbers


def test_the_split_identity_fails_for_a_normalization_that_keeps_the_scale():
    def centred_only(real, fake):  # subtracts each batch's mean but keeps its scale: a stretch shows
        real, fake = torch.as_tensor(real), torch.as_tensor(fake)
        return NS(real_split=real - real.mean(0), fake_split=fake - fake.mean(0), real_joint=real, fake_joint=fake)

    found = rules.split_identity(CLAIM["7.4"], {}, None, draws=50, normalize=centred_only)
    assert not found["rule:split"].holds
    result = ledger._read(CLAIM["7.4"].checks[0], found)
    assert result.outcome == "not reproduced" and not result.in_family


# --------------------------------------------------------------------------- 7.1, through the ledger


def read_71(monkeypatch, mmd, loss_d):
    runs = toy_runs("no BN", {s: {"mmd": mmd + 0.001 * s, "final_loss_d": loss_d + 0.002 * s} for s in range(5)})
    monkeypatch.setattr(ledger, "cached_experiment", lambda config, label, **kw: runs)
    monkeypatch.setattr(ledger, "recorded", lambda p: {})
    monkeypatch.setattr(ledger, "_unfinished", lambda *args, **kwargs: {})  # the stand-in runs are all there
    return ledger.evaluate([CLAIM["7.1"]], profile="smoke", train=False)[0]


def test_a_toy_gan_that_fits_with_d_at_ln_2_reproduces_7_1(monkeypatch):
    verdict = read_71(monkeypatch, mmd=0.002, loss_d=math.log(2))
    assert verdict.verdict == "reproduced", verdict.numbers
    assert "G's input noise" in verdict.numbers or "MMD" in verdict.numbers


def test_a_toy_gan_far_from_the_data_with_a_winning_d_does_not_reproduce_7_1(monkeypatch):
    verdict = read_71(monkeypatch, mmd=5.0, loss_d=0.2)
    assert verdict.verdict_class == "not reproduced", verdict.verdict


# --------------------------------------------------------------------------- rules with a made-up computation


def fake_rule(monkeypatch, values):
    claim = claims.Claim("9.9", "made up", "s", 9,
                         (claims.Check("rule:a", "rule:b", "recon_mse", "higher", "b against a"),),
                         rule="made_up", files=True, reads=("heuristics:dcgan-bn",), note="bngan.rules.made_up")

    def made_up(claim, runs, profile):
        if values is None:
            raise rules.Waiting("heuristics:dcgan-bn: 0 run(s) with their files in the run cache")
        return {name: NS(label=name, n_diverged=0, by_seed=lambda metric, v=v: dict(enumerate(v)))
                for name, v in values.items()}

    monkeypatch.setitem(rules.RULES, "made_up", made_up)
    monkeypatch.setattr(ledger, "cached_experiment", lambda config, label, **kw: experiments.RunSet(label, config, []))
    monkeypatch.setattr(ledger, "recorded", lambda p: {})
    return ledger.evaluate([claim], profile="smoke", train=False)[0]


def test_a_rules_arms_are_read_by_the_ledgers_tests(monkeypatch):
    up = fake_rule(monkeypatch, {"rule:a": [1.0, 1.1, 0.9, 1.0, 1.05], "rule:b": [2.0, 2.1, 1.9, 2.0, 2.05]})
    assert up.verdict == "reproduced" and up.results[0].in_family
    down = fake_rule(monkeypatch, {"rule:a": [2.0, 2.1, 1.9, 2.0, 2.05], "rule:b": [1.0, 1.1, 0.9, 1.0, 1.05]})
    assert down.verdict == "not reproduced (reversed)"


def test_a_rule_whose_runs_are_missing_waits_for_them(monkeypatch):
    verdict = fake_rule(monkeypatch, None)
    assert verdict.verdict_class == "not tested" and "waits for its runs" in verdict.verdict
    assert not verdict.results[0].in_family


def test_a_rule_needing_files_waits_for_runs_read_from_the_committed_results():
    recorded = toy_runs("x", {0: {"recon_mse": 0.1}}, name="heuristics:dcgan-bn")
    with pytest.raises(rules.Waiting, match="0 run"):
        rules.search_converges(CLAIM["9.1"], {"heuristics:dcgan-bn": recorded}, None)
    with pytest.raises(rules.Waiting, match="none finished"):
        rules.stability(CLAIM["9.5"], {}, None)


# --------------------------------------------------------------------------- 9.4's memorizing generator


def test_a_memorizing_generator_is_found_out_by_held_out_images_and_not_by_its_own():
    g = torch.Generator().manual_seed(0)
    stored, unseen = torch.rand(16, 1, 8, 8, generator=g) * 2 - 1, torch.rand(16, 1, 8, 8, generator=g) * 2 - 1
    memorizer = rules.Memorizer(stored, latent_dim=32, seed=0)
    on_stored = reconstruction_error(memorizer, stored, latent_dim=32, steps=100).mse
    on_unseen = reconstruction_error(memorizer, unseen, latent_dim=32, steps=100).mse
    assert on_stored < 0.2 * on_unseen
    # and a "memorizer" of other images finds neither: the rule's contrast is the memorization
    other = rules.Memorizer(torch.rand(16, 1, 8, 8, generator=g) * 2 - 1, latent_dim=32, seed=0)
    assert reconstruction_error(other, stored, latent_dim=32, steps=100).mse > 0.5 * on_unseen


# --------------------------------------------------------------------------- one family on every page


def test_a_chapters_table_and_the_whole_ledger_give_the_former_elsewhere_claims_the_same_word(monkeypatch):
    """A claim decided by a rule joins the same correction in its chapter's table as in chapter 10:
    the family size, the mark and the word agree."""
    nulls = {f"x:n{i}": list(np.random.default_rng(i).normal(100, 5, 5)) for i in range(6)}
    borderline = {"x:a": [10, 11, 12, 10, 11], "x:c": [9, 10, 10.5, 9, 9.5]}
    sets = {name: toy_runs(name, {s: {"fid": v} for s, v in enumerate(vals)}, name="table2:1")
            for name, vals in {**nulls, **borderline}.items()}
    for i, name in enumerate(sets):  # each its own config hash, as different set-ups have
        sets[name].config = sets[name].config.vary(**{"train.steps": 2 + i})
    sets["blindspot:no-bn"] = toy_runs("no BN", {s: {"mmd": 0.002 + 0.001 * s, "final_loss_d": 0.69 + 0.002 * s}
                                                for s in range(5)})
    regular = (claims.Claim("1.1", "borderline", "s", 1, (claims.Check("x:a", "x:c"),)),
               *(claims.Claim(f"2.{i + 1}", "null", "s", 2, (claims.Check(f"x:n{2 * i}", f"x:n{2 * i + 1}"),))
                 for i in range(3)))
    claims_ = (*regular, CLAIM["7.1"], CLAIM["7.4"])
    for module in (ledger, claims):
        monkeypatch.setattr(module, "CLAIMS", claims_)
    monkeypatch.setattr(ledger, "config_at", lambda name, p: sets[name].config if name in sets else
                        experiments.get_experiment(name, "smoke"))
    monkeypatch.setattr(ledger, "cached_experiment", lambda config, label, **kw: sets[label])
    monkeypatch.setattr(ledger, "run_experiment", lambda config, label, **kw: sets[label])
    monkeypatch.setattr(ledger, "recorded", lambda p: {})
    monkeypatch.setattr(ledger, "_unfinished", lambda *args, **kwargs: {})  # the stand-in runs are all there
    book = {v.claim.key: v for v in ledger.book_wide(ledger.evaluate(claims_, profile="smoke"))}
    family = {r.family for v in book.values() for r in v.results if r.corrected is not None}
    assert family == {5}  # 4 regular comparisons and 7.1's fit; 7.1's "same" and 7.4's exact parts stay out
    for chapter in (1, 7):
        for key, _, verdict, numbers in ledger.chapter_table(chapter, ledger.chapter_pilot(chapter, profile="smoke")).rows:
            assert verdict == book[key].verdict, key
            assert numbers.startswith(book[key].numbers), key
    assert book["7.1"].verdict == "reproduced" and book["7.4"].verdict == "reproduced"


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("something was trained")

    monkeypatch.setattr(trainer.Trainer, "__init__", refuse)
    monkeypatch.setattr(workers, "ProcessPoolExecutor", refuse)


def test_verdicts_on_an_empty_cache_with_the_committed_results_prints_every_claim_quickly(
        tmp_path, monkeypatch, no_training, capsys):
    committed = Path(__file__).resolve().parents[1] / "results"
    if not (committed / "quick.jsonl").is_file():
        pytest.skip("no committed results in this checkout")
    monkeypatch.setenv(results.RESULTS_ENV, str(committed))
    monkeypatch.setattr(results, "_READ", {})
    started = time.perf_counter()
    assert cli.main(["verdicts", "--profile", "quick", "--root", str(tmp_path / "runs"), "--workers", "1"]) == 0
    assert time.perf_counter() - started < 60
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isdigit() and "." in line.split()[0]}
    assert set(rows) == set(CLAIM)
    assert "reproduced" in rows["7.4"]  # exact, computed without runs
    assert f"{len(CLAIM)} claims:" in out
    if not rule_records.read("quick", committed):
        for key in ("4.4", "9.1", "9.3", "9.4", "9.5"):  # rules whose runs' files are not in this empty cache
            assert "unfinished" in rows[key], rows[key]
        return
    # with the rules' committed records, the fresh checkout reads what chapter 10 read from a full cache
    chapter10 = json.loads((committed.parent / "book" / "10_verdicts.ipynb").read_text())
    glued = {o["metadata"]["scrapbook"]["name"]: "".join(o["data"]["application/papermill.record/text/plain"])
             for c in chapter10["cells"] for o in c.get("outputs", []) if "scrapbook" in o.get("metadata", {})}
    pilot = ", ".join(f"{glued['pilot.n_' + outcome.replace(' ', '_')]} {outcome}" for outcome in ledger.VERDICT_CLASSES)
    final = ", ".join(f"{glued['n_' + outcome.replace(' ', '_')]} {outcome}" for outcome in ledger.VERDICT_CLASSES)
    assert f"\n{len(CLAIM)} claims: {final}" in out  # the confirmation's words where its seeds are all there
    assert f"on the pilot seeds alone, {len(CLAIM)} claims: {pilot}" in out


# --------------------------------------------------------------------------- the committed results


def test_the_new_per_run_numbers_are_exported_and_old_rows_lacking_them_read_as_missing(tmp_path):
    from bngan import histories
    from bngan.plan import budget_profile
    from test_results import row

    assert set(histories.DERIVED) <= set(results.derived_names())
    smoke = budget_profile("smoke")
    old = row("batch:steps-16", 0, {"fid": 100.0})  # exported before loss_overlap was a claim's metric
    new = row("batch:steps-16", 1, {"fid": 101.0}, derived={"loss_overlap": 0.25, "final_bn_gap": 0.05})
    path = results.write([old, new], tmp_path / "smoke.jsonl")
    found, problems = results.read(path, smoke)
    assert problems == []
    rs = experiments.RunSet("batch 16", next(iter(found.values())).config, list(found.values()))
    assert rs.by_seed("loss_overlap") == {1: 0.25} and rs.by_seed("final_bn_gap") == {1: 0.05}
    # a run with its history computes them; one whose history lacks the columns gets NaN, not an error
    loss = list(np.linspace(1.0, 0.6, 40))
    logged = NS(metrics={}, history={"loss_d": loss, "loss_g": [v + 0.3 for v in loss]}, evals={"recon_mse": [0.3, 0.2, 0.25]})
    assert histories.derived(logged, "loss_overlap") == histories.loss_overlap(logged.history["loss_d"],
                                                                               logged.history["loss_g"])
    assert histories.derived(logged, "early_recon_mse") == 0.3
    assert histories.derived(logged, "recon_rise") == pytest.approx(0.05)
    assert math.isnan(histories.derived(NS(metrics={}, history={}, evals={}), "final_bn_gap"))


# --------------------------------------------------------------------------- 9.5's halves, paired by seed


def test_stability_compares_each_seeds_halves_with_each_other(monkeypatch):
    """Row 9.5 once compared the halves' shares of their sum as two independent arms: the two
    shares of a seed always sum to 2, so Welch's interval came out about sqrt 2 too narrow. The
    rule now gives each seed's second-half error in units of its first half's, against the unit."""
    halves = {0: (1.00, 1.10), 1: (2.00, 1.90), 2: (0.50, 0.56), 3: (1.50, 1.41), 4: (3.00, 3.30)}
    calls = iter(x for seed in sorted(halves) for x in halves[seed])
    generator = NS(eval=lambda: None)
    config = NS(model=NS(latent_dim=2), train=NS(recon_final_steps=1))
    found = [NS(seed=s, config=config, networks=lambda: (generator, None)) for s in sorted(halves)]
    monkeypatch.setattr(rules, "_with_files", lambda runs, name: found)
    monkeypatch.setattr(rules, "_data", lambda config: (None, torch.zeros(300, 1, 2, 2)))
    monkeypatch.setattr(rules, "_search", lambda g, images, latent, steps: next(calls))
    arms = rules.stability(CLAIM["9.5"], {}, None)
    ratios = np.array([b / a for a, b in halves.values()])
    assert arms["rule:first half"].by_seed("recon_mse") == {s: 1.0 for s in halves}
    assert arms["rule:second half"].by_seed("recon_mse") == pytest.approx(dict(enumerate(ratios)))
    check = CLAIM["9.5"].checks[0]
    c = stats.compare(arms[check.baseline], arms[check.treatment], "recon_mse")
    assert c.difference == pytest.approx(ratios.mean() - 1)
    assert c.se == pytest.approx(ratios.std(ddof=1) / math.sqrt(len(ratios)))  # the paired standard error
    assert c.df == pytest.approx(len(ratios) - 1)
