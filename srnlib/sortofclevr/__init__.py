"""The Sort-of-CLEVR experiment (Section 3.1): data (generator, answers, rendering, robustness transformations).

    srnlib.sortofclevr.data: generate and the cached Dataset, built from scene (object tables), questions (questions
    and answer), rendering and robustness; their names are importable from data and from here.

    srnlib.sortofclevr.generate(n, seed=0, questions_per_image=20) -> SortOfClevr(images (n, 3, 75, 75),
        objects (n, 6, 4), questions (n, q, 11), answers (n, q), categories (n, q))
    srnlib.sortofclevr.answer(objects, questions)      the one function computing answers from object tables
    srnlib.sortofclevr.render(objects)                 object tables -> images
    srnlib.sortofclevr.SortOfClevrDataset(n, seed, ...) cached torch Dataset of (image, question, answer, category)
    srnlib.sortofclevr.rotate / translate / shift_inside / sample_easy for the robustness tasks
    srnlib.sortofclevr.models.build_model("rn" | "rn_srn", SortOfClevrConfig.from_settings(cfg)) -> RelationNetwork
    srnlib.sortofclevr.experiment      load_or_train, Table 2 (evaluate), the 0-step ablation, robustness
    srnlib.sortofclevr.robustness_tasks  the Synthetic and Dataset tasks run on models (synthetic_tables chooses
                                         the configuration both models are surest of, as the paper does)
    srnlib.sortofclevr.reconstruction  Figure 4: an image decoder trained on a frozen set generator's sets
    srnlib.sortofclevr.plots           the lesson's figures (notebook 03)
"""
from . import data, models
from .data import (ANSWER_NAMES, CATEGORY_NAMES, COLOUR_NAMES, SHAPE_NAMES, EasyQuestions, SortOfClevr,
                   SortOfClevrDataset, answer, category_masks, decode_questions, describe_question, encode_questions,
                   fits_every_rotation, furthest_ratio, generate, inside_image, is_easy, question_categories, render,
                   render_labels, rotate, sample_easy, shift_inside, translate)

__all__ = ["ANSWER_NAMES", "CATEGORY_NAMES", "COLOUR_NAMES", "SHAPE_NAMES", "EasyQuestions", "SortOfClevr",
           "SortOfClevrDataset", "answer", "category_masks", "data", "models", "decode_questions", "describe_question",
           "encode_questions", "fits_every_rotation", "furthest_ratio", "generate", "inside_image", "is_easy",
           "question_categories", "render", "render_labels", "rotate", "sample_easy", "shift_inside", "translate"]
