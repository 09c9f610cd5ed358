"""Page 3 (notebooks/03_alignment_contribution.py): relevancy per token and per patch for zero-shot CLIP, the deep
prompts and shallow prompts, against CLIP and against null controls (Sec. 3.2.2, App. E)."""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from IPython.display import HTML

from ..analysis import (CONTROLS, POSITIVE_CONTROL, TEXT_GROUPS, eos_attention_on_sos, null_controls, patch_heatmaps, relevancy_maps,
                        relevancy_statistics, text_tokens)
from ..analysis_inputs import (analysis_models, analysis_spec, balanced_test_images, in_batches, positive_control_models,
                               positive_control_spec)
from ..claims import (Estimate, Verdict, combine, decide_direction, decide_eos_focus_on_sos, decide_map_kept,
                      decided_in_every_design, given_premises, not_learned, relevancy_effects)
from ..data.coop import DatasetSplits
from ..experiments import RunSpec, trained_models
from ..figures import display_images, group_share_grid, overlay_maps, position_relevance, text_positions, token_relevance
from ..gains import gain_rows, learned_gains
from ..models import LoadedCLIP
from ..page import Captioned, caption, figure
from ..paper import CLIP_TEMPLATE, appendix_e_datasets
from ..profiles import Settings
from ..prompted import PromptedCLIP
from ..presets import table2_methods
from ..tables import html_table, paper_dataset
from ..claims.ledger import key_sentence
from ..variants import compare, variant_rows
from ..widgets import figure_image, view_selector

__all__ = ["AlignmentPage", "NOTEBOOK", "controls_table", "datasets_line", "deep_table", "effect_tables", "eurosat_table", "gains_table",
           "group_figure", "map_viewer", "measure", "patch_figure", "recorded", "relevance_figures", "runs", "shallow_table", "text_figure",
           "token_figure", "verdicts"]

NOTEBOOK = "03_alignment_contribution"
MAP_IMAGES = 6  # test images per dataset in the relevancy-map viewer (Fig. 3.4)


def _datasets(settings: Settings) -> dict[str, DatasetSplits]:
    """The datasets App. E's rule keeps (read with an "a photo of …" template)."""
    every = settings.load_datasets()
    return {name: every[name] for name in appendix_e_datasets({n: d.template for n, d in every.items()})}


def _shallow_specs(settings: Settings, names) -> dict[str, RunSpec]:
    """Shallow prompts (the first block only: Table 2's depth-1 run), first seed."""
    return {name: RunSpec(name, table2_methods([1])[1], settings.seeds[0]) for name in names}


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """The zero-shot runs and (trained prompts only) the analysis models and the shallow prompts of App. E's datasets;
    the analysis models of every dataset are asked for together (`analysis_models`)."""
    names = list(_datasets(settings))
    specs = [RunSpec(name) for name in names] + [positive_control_spec(settings, clip, name) for name in names]
    if settings.imported_prompts is None:
        specs += [analysis_spec(settings, clip, name) for name in settings.datasets]
        specs += list(_shallow_specs(settings, names).values())
    return specs


@dataclass
class AlignmentPage:
    """What page 3 measures."""

    settings: Settings
    clip: LoadedCLIP
    data: dict[str, DatasetSplits]  # the datasets in the statistics (App. E's rule)
    left_out: list[str]  # the datasets App. E's rule leaves out
    models: dict[str, dict[str, PromptedCLIP]]  # per dataset: "CLIP", "deep" and (trained prompts) "shallow"
    stats: dict[str, dict[str, dict]]  # per dataset and model: relevancy_statistics
    effects: dict[str, dict[str, dict[str, Estimate]]]  # {variant: {dataset: relevancy_effects against CLIP}}
    versus_of: dict[str, dict[str, dict[str, dict[str, Estimate]]]]  # {variant: {control: {dataset: variant − control}}}
    own: dict[str, dict[str, dict[str, Estimate]]]  # {control: {dataset: the deep control against CLIP}}
    positive: dict[str, dict[str, Estimate]]  # per dataset: the positive control (bias tuning) against CLIP
    gains: dict[str, dict[str, Estimate]]  # {variant: {dataset: test accuracy minus CLIP's}}
    n_patches: int
    # the premise of "especially SOS" (EOS attends mostly to SOS), decided by page 4's rule on zero-shot CLIP
    eos_on_sos: Verdict

    @property
    def deep(self) -> dict[str, dict[str, Estimate]]:
        return self.effects.get("deep", {})

    @property
    def versus(self) -> dict[str, dict[str, dict[str, Estimate]]]:
        return self.versus_of.get("deep", {})


def measure(settings: Settings, clip: LoadedCLIP) -> AlignmentPage:
    """Relevancy statistics on `settings.analysis_images` balanced test images per dataset, for CLIP, the deep and the
    shallow prompts and each one's null controls; their paired effects; the prompts' gains over CLIP."""
    data = _datasets(settings)
    left_out = [name for name in settings.datasets if name not in data]
    zero_shot = PromptedCLIP(clip)
    grid = clip.model.visual.grid_size
    n_patches = grid[0] * grid[1]
    stats, models, control_stats = {}, {}, {}
    deep = analysis_models(settings, clip, data, progress=False)
    shallow = _shallow_specs(settings, data)
    shallow_models = (trained_models(list(shallow.values()), clip, settings, splits=data, progress=False)
                      if settings.imported_prompts is None else {})
    positive_models = positive_control_models(settings, clip, data)
    positive_stats = {}
    for name, dataset in data.items():
        images, labels = balanced_test_images(clip, dataset, settings.analysis_images)
        models[name] = {"CLIP": zero_shot, "deep": deep[name]}
        if settings.imported_prompts is None:
            models[name]["shallow"] = shallow_models[shallow[name]]
        stats[name] = {label: relevancy_statistics(model, in_batches(images, labels), dataset.classnames, CLIP_TEMPLATE,
                                                   progress=False)
                       for label, model in models[name].items()}
        control_stats[name] = {variant: {c: relevancy_statistics(model, in_batches(images, labels), dataset.classnames,
                                                                 CLIP_TEMPLATE, progress=False)
                                         for c, model in null_controls(clip, models[name][variant], settings.seeds[0]).items()}
                               for variant in ("deep", "shallow") if variant in models[name]}
        positive_stats[name] = relevancy_statistics(positive_models[name], in_batches(images, labels), dataset.classnames,
                                                    CLIP_TEMPLATE, progress=False)
    effects = {variant: {d: relevancy_effects(by["CLIP"], by[variant], n_patches) for d, by in stats.items()}
               for variant in ("deep", "shallow") if all(variant in by for by in stats.values()) and stats}
    versus_of = {variant: {c: {d: relevancy_effects(control_stats[d][variant][c], by[variant], n_patches)
                               for d, by in stats.items()} for c in CONTROLS} for variant in effects}
    own = {c: {d: relevancy_effects(by["CLIP"], control_stats[d]["deep"][c], n_patches) for d, by in stats.items()}
           for c in CONTROLS}
    positive = {d: relevancy_effects(by["CLIP"], positive_stats[d], n_patches) for d, by in stats.items()}
    gains = {"deep": learned_gains(settings, clip, data)}
    if "shallow" in effects:
        gains["shallow"] = learned_gains(settings, clip, data, shallow[next(iter(data))].method)
    premise = decide_eos_focus_on_sos({d: eos_attention_on_sos(zero_shot, dataset.classnames, CLIP_TEMPLATE)
                                       for d, dataset in data.items()}, stand_in=not settings.paper_model)
    return AlignmentPage(settings, clip, data, left_out, models, stats, effects, versus_of, own, positive, gains, n_patches,
                         premise)


def _direction(claim: str, key: str, sign: int, what: str, excluded: dict[str, str], effects, controls) -> Verdict:
    return decide_direction(claim, {d: e[key] for d, e in effects.items() if key in e}, sign, what,
                            controls={c: {d: e[key] for d, e in by.items() if key in e} for c, by in controls.items()},
                            excluded=excluded)


def verdicts(page: AlignmentPage, left_out: dict[str, str] | None = None) -> list[Verdict]:
    """The page's verdicts, with the datasets of `left_out` (name → why) set aside as well as those whose prompts
    did not learn; "especially SOS" given its premise (`AlignmentPage.eos_on_sos`)."""
    left_out = left_out or {}
    deep, versus = page.deep, page.versus
    deep_excluded = {**not_learned(page.gains["deep"]), **left_out}
    found = [
        _direction("relevancy.category-decreases", "category", -1, "the class name's share of EOS relevance", deep_excluded,
                   deep, versus),
        _direction("relevancy.sos-increases", "sos", +1, "SOS's share of EOS relevance", deep_excluded, deep, versus),
        _direction("relevancy.prompts-increase", "prefix", +1, "the learned prompts' share against the template words'",
                   deep_excluded, deep, versus),
        _direction("relevancy.sos-most", "sos_most", +1, "SOS's gain minus the prompts' gain", deep_excluded, deep, versus),
        decide_map_kept("relevancy.patches-unchanged", {d: e["patches"] for d, e in deep.items()}, "the patch relevance",
                        controls={c: {d: e["patches"] for d, e in by.items()} for c, by in page.own.items()},
                        excluded=deep_excluded, positive={d: e["patches"] for d, e in page.positive.items()}),
        _direction("relevancy.vision-prompts-prominent", "vision_prompts", +1,
                   "the vision prompts' relevance over their uniform share", deep_excluded, deep, versus),
    ]
    if "shallow" in page.effects:
        by_variant = {"deep": deep_excluded, "shallow": {**not_learned(page.gains["shallow"]), **left_out}}
        found.append(combine("relevancy.shallow-and-deep", {
            f"{variant}, {what}": _direction("relevancy.shallow-and-deep", key, sign, what, by_variant[variant], by,
                                             page.versus_of[variant])
            for variant, by in page.effects.items()
            for key, sign, what in (("category", -1, "the class name's share"),
                                    ("prefix", +1, "the prompts' share against the template's"))}))
    return given_premises(found, [page.eos_on_sos])


def _eurosat(page: AlignmentPage) -> list[str]:
    return [d for d in page.data if paper_dataset(d) == "eurosat"]


def _eurosat_left_out(page: AlignmentPage) -> dict[str, list[Verdict]]:
    """The verdicts with the EuroSAT stand-in left out, as App. E leaves EuroSAT out (none without a stand-in)."""
    eurosat = _eurosat(page)
    return {f"{', '.join(eurosat)} left out": verdicts(page, {d: "left out, as App. E leaves EuroSAT out" for d in eurosat})
            } if eurosat else {}


def recorded(page: AlignmentPage) -> list[Verdict]:
    """The verdicts the page records: each the one both designs give, with the EuroSAT stand-in kept (this book's
    choice) and left out (App. E's), inconclusive where they differ (`claims.decided_in_every_design`)."""
    return decided_in_every_design(verdicts(page), _eurosat_left_out(page),
                                   "keeping the EuroSAT stand-in, which App. E leaves out", f"{', '.join(_eurosat(page))} kept")


def relevance_figures(page: AlignmentPage) -> list[Captioned]:
    """Figs. 3.1-3.3 (none without statistics)."""
    return [shown for shown in (text_figure(page), patch_figure(page), group_figure(page)) if shown is not None]


def effect_tables(page: AlignmentPage) -> list[HTML]:
    """Tables 3.1, 3.2 and (trained prompts only) 3.5."""
    return [shown for shown in (deep_table(page), controls_table(page), shallow_table(page)) if shown is not None]


def datasets_line(page: AlignmentPage) -> HTML:
    return HTML(f"<p>Datasets in the statistics: <b>{', '.join(page.data) or 'none'}</b>; left out (not read with an “a "
                f"photo of …” template, App. E): {', '.join(page.left_out) or 'none'}.</p>")


def text_figure(page: AlignmentPage) -> Captioned | None:
    """Fig. 3.1: the mean relevance of each text position to EOS."""
    if not page.stats:
        return None
    stats = page.stats
    last = max(int((s["text"] > 0).nonzero().max()) for by in stats.values() for s in by.values()) + 1
    return figure(position_relevance({d: {m: s["text"][:last] for m, s in by.items()} for d, by in stats.items()},
                                     "text position: SOS; CLIP's word / the prompt in its place; c1…: the class name, then '.'",
                                     names=text_positions(CLIP_TEMPLATE, page.settings.n_ctx, last)),
                  "Mean relevance of each text position to EOS (each text's relevance normalised to sum 1; positions "
                  "from EOS on are 0). CLIP reads “a photo of a {class}.”; the prompted models read their learned "
                  "prompts in the same positions", "3.1", "Fig. 2, Figs. 8–22")


def patch_figure(page: AlignmentPage) -> Captioned | None:
    """Fig. 3.2: the mean relevance of each patch and vision prompt to [cls]."""
    if not page.stats:
        return None
    stats = page.stats
    width = max(s["image"].numel() for by in stats.values() for s in by.values())
    return figure(position_relevance({d: {m: F.pad(s["image"], (0, width - s["image"].numel())) for m, s in by.items()}
                                      for d, by in stats.items()},
                                     "image token (patches row by row, then vision prompts)", page.n_patches,
                                     "vision prompts"),
                  "Mean relevance of each patch and vision prompt to [cls] (normalised per image). CLIP has no "
                  "prompt positions; they are shown empty, as in the paper", "3.2", "Fig. 3, Figs. 9–23")


def group_figure(page: AlignmentPage) -> Captioned | None:
    """Fig. 3.3: the text relevance summed per token group."""
    if not page.stats:
        return None
    return figure(group_share_grid({d: {m: s["text_groups"] for m, s in by.items()} for d, by in page.stats.items()},
                                   TEXT_GROUPS, "share of EOS relevance"),
                  "The same text relevance summed per token group: SOS, learned prompts, template words, the class "
                  "name and the final period", "3.3", "Fig. 2")


def map_viewer(page: AlignmentPage) -> tuple:
    """Fig. 3.4: a viewer of single images' patch relevance to [cls], CLIP against the deep prompts, and its caption
    (nothing without statistics)."""
    if not page.stats:
        return ()
    clip, views = page.clip, []
    for name, dataset in page.data.items():
        images, labels = balanced_test_images(clip, dataset, MAP_IMAGES)
        pictures = display_images(images, clip)
        maps = {}
        for label in ("CLIP", "deep"):
            model = page.models[name][label]
            texts = model.prompt_texts([dataset.classnames[k] for k in labels.tolist()], CLIP_TEMPLATE)
            maps[label] = patch_heatmaps(model, relevancy_maps(model, images, texts).image, clip.image_size)
        views.append([figure_image(overlay_maps(pictures[i:i + 1], [maps["CLIP"][i:i + 1], maps["deep"][i:i + 1]],
                                              ["CLIP relevancy", "prompted relevancy"], [dataset.classnames[labels[i]]]))
                      for i in range(len(images))])
    return (view_selector(views, [("dataset", list(page.data)), ("test image", [str(i + 1) for i in range(MAP_IMAGES)])],
                          slider=[False, True]),
            caption("The relevance of each patch to [cls] for one test image, zero-shot CLIP and the deep prompts",
                    "3.4", "Fig. 3"))


def token_figure(page: AlignmentPage) -> Captioned | None:
    """Fig. 3.5: one text per dataset as each model reads it, every token shaded by its relevance to EOS."""
    if not page.stats:
        return None
    rows = {}
    for name, dataset in page.data.items():
        images, labels = balanced_test_images(page.clip, dataset, 1)
        classname = dataset.classnames[labels[0]]
        for label in ("CLIP", "deep"):
            model = page.models[name][label]
            tokens = text_tokens(model, classname, CLIP_TEMPLATE)[:-1]  # EOS reads, it has no relevance of its own
            maps = relevancy_maps(model, images, model.prompt_texts([classname], CLIP_TEMPLATE))
            rows[f"{name}, {label}"] = (tokens, maps.text[0, : len(tokens)].tolist())
    return figure(token_relevance(rows), "One text per dataset as each model reads it, every token shaded by its "
                  "relevance to EOS; the learned prompts P1… sit where CLIP reads “a photo of a”", "3.5", "Fig. 2")


def deep_table(page: AlignmentPage) -> HTML:
    """Table 3.1: the deep prompts against CLIP, per dataset."""
    return HTML(html_table([{"dataset": d, "Δ category": str(e["category"]), "Δ SOS": str(e["sos"]),
                             "Δ prefix": str(e["prefix"]), "patch maps kept": str(e["patches"]),
                             "prompts / uniform − 1": str(e.get("vision_prompts", "–"))}
                            for d, e in page.deep.items()],
                           "Table 3.1 — Deep prompts against CLIP, per dataset (mean ± 2 SE over the test images)",
                           note="Δ: the change of the class name's, SOS's and the prefix's share of EOS relevance (prefix: "
                           "the prompts, or CLIP's 'a photo of a'). Patch maps kept: their similarity to CLIP's (1 = CLIP's, "
                           "0 = unrelated). Prompts / uniform − 1: the vision prompts' relevance over their uniform share."))


def controls_table(page: AlignmentPage) -> HTML:
    """Table 3.2: the deep prompts minus each null control, and the positive control's own patch maps."""
    # the control's own patch maps come right after its name: the positive control's rows have nothing else
    return HTML(html_table([{"dataset": d, "control": c, "control's patch maps kept": str(page.own[c][d]["patches"]),
                             "Δ category": str(v[d]["category"]), "Δ SOS": str(v[d]["sos"]),
                             "Δ prefix": str(v[d]["prefix"]), "Δ prompts / uniform": str(v[d].get("vision_prompts", "–"))}
                            for d in page.deep for c, v in page.versus.items()]
                           + [{"dataset": d, "control": "bias tuning (positive control)",
                               "control's patch maps kept": str(e["patches"]), "Δ category": "–", "Δ SOS": "–",
                               "Δ prefix": "–", "Δ prompts / uniform": "–"}
                              for d, e in page.positive.items()],
                           "Table 3.2 — Null controls: the deep prompts minus each control, paired over the same images "
                           "(mean ± 2 SE); the positive control's own patch maps",
                           note="Controls: " + "; ".join(f"{c}, {what}" for c, what in CONTROLS.items())
                           + f"; positive control, {POSITIVE_CONTROL} (no prompts, so only its patch maps are "
                           "compared). Patch maps kept: how much each control's own patch maps stay CLIP's."))


def shallow_table(page: AlignmentPage) -> HTML | None:
    """Table 3.3: the shallow prompts against CLIP and their null controls (none with imported prompts)."""
    if "shallow" not in page.effects:
        return None
    versus = page.versus_of["shallow"]
    return HTML(html_table(
        [{"dataset": d, "Δ category": str(e["category"]), "Δ prefix": str(e["prefix"]),
          **{f"Δ category − {c}": str(versus[c][d]["category"]) for c in CONTROLS},
          **{f"Δ prefix − {c}": str(versus[c][d]["prefix"]) for c in CONTROLS}}
         for d, e in page.effects["shallow"].items()],
        "Table 3.3 — Shallow prompts (first block only) against CLIP and against their null controls, mean ± 2 SE over "
        "the test images: the numbers App. E's “shallow and deep alike” is decided on"))


def gains_table(page: AlignmentPage) -> HTML:
    """Table 3.4: did the prompts learn?"""
    return HTML(html_table(gain_rows(page.gains), "Table 3.4 — Did the prompts learn? Test accuracy minus zero-shot CLIP's "
                           "on the whole test split, paired over the images, mean ± 2 SE (first seed)"))


def eurosat_table(page: AlignmentPage) -> HTML | None:
    """Table 3.5: the page's verdicts with the EuroSAT stand-in kept and left out, as App. E leaves EuroSAT out, before
    the two are combined (nothing when no dataset stands for EuroSAT)."""
    without = _eurosat_left_out(page)
    if not without:
        return None
    # each verdict's key result only (the whole sentence is in its box above): twelve rows of prose would bury the verdicts
    rows = [{**row, "this run": key_sentence(row["this run"])}
            for row in variant_rows(compare({f"{', '.join(_eurosat(page))} kept": verdicts(page), **without}), "design")]
    return HTML(html_table(rows, "Table 3.5 — This page's verdicts with the EuroSAT stand-in kept and left out (as App. E), "
                           "before the two are combined"))
