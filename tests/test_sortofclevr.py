"""Sort-of-CLEVR data: answers against an independent plain-Python oracle, geometry of the generated objects,
rendering, determinism, the disk cache, rotations and "easy" configurations, and argument checks."""
import math
import warnings

import numpy as np
import pytest
import torch

from srnlib.sortofclevr import data as soc

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------- independent oracle
def oracle_answer(table, colour, relational, subtype):
    """The answer to one question, written with plain loops, math.dist and explicit sorting (no numpy)."""
    objects = {}
    for row in table:
        objects[int(row[0])] = (float(row[1]), float(row[2]), int(row[3]))
    x, y, shape = objects[colour]
    if not relational:
        if subtype == 0:
            return "square" if shape == 0 else "circle"
        if subtype == 1:
            return "yes" if x < 75 / 2 else "no"
        return "yes" if y < 75 / 2 else "no"
    others = []
    for other_colour, (other_x, other_y, other_shape) in objects.items():
        if other_colour != colour:
            others.append((math.dist((x, y), (other_x, other_y)), other_colour, other_shape))
    if subtype == 0:
        chosen = sorted(others, key=lambda item: (item[0], item[1]))[0]  # ties: lowest colour
        return "square" if chosen[2] == 0 else "circle"
    if subtype == 1:
        chosen = sorted(others, key=lambda item: (-item[0], item[1]))[0]
        return "square" if chosen[2] == 0 else "circle"
    same = 1 + sum(1 for item in others if item[2] == shape)
    return str(same)


def decode_one(question):
    question = [int(v) for v in question]
    return question[:6].index(1), question[6:8].index(1), question[8:].index(1)


def check_against_oracle(objects, questions, answers):
    checked = 0
    for table, image_questions, image_answers in zip(objects, questions, answers):
        for question, given in zip(image_questions, image_answers):
            expected = oracle_answer(table, *decode_one(question))
            assert soc.ANSWER_NAMES[int(given)] == expected, (table, question)
            checked += 1
    return checked


# ------------------------------------------------------------------------------------------------------- answers
def test_answers_match_independent_oracle_on_generated_data():
    generated = soc.generate(40, seed=5, questions_per_image=20)
    assert check_against_oracle(generated.objects, generated.questions, generated.answers) == 800
    assert set(np.unique(generated.categories)) == set(range(6))
    # the answer vocabulary is used as documented: yes/no, both shapes and several counts
    assert {0, 1, 2, 3}.issubset(set(np.unique(generated.answers))) and generated.answers.max() <= 9


def test_answers_on_shuffled_rows_and_rotated_float_tables():
    rng = np.random.default_rng(11)
    generated = soc.generate(25, seed=6, questions_per_image=12)
    shuffled = np.stack([table[rng.permutation(6)] for table in generated.objects])
    rotated = soc.rotate(shuffled, rng.uniform(0, 2 * np.pi, size=25))
    for tables in (shuffled, rotated):
        answers = soc.answer(tables, generated.questions)
        check_against_oracle(tables, generated.questions, answers)
    np.testing.assert_array_equal(soc.answer(shuffled, generated.questions), generated.answers)


def test_answer_breaks_distance_ties_towards_lowest_colour_and_accepts_one_question_per_table():
    # red at the centre; green (circle) and blue (square) both at distance 20; the rest far (orange furthest)
    table = np.array([[0, 37, 37, 0], [1, 57, 37, 1], [2, 17, 37, 0], [3, 69, 69, 0], [4, 5, 69, 1],
                      [5, 5, 5, 1]], dtype=np.float32)
    closest = soc.encode_questions(np.array([0]), np.array([1]), np.array([0]))  # closest to red
    assert soc.ANSWER_NAMES[soc.answer(table[None], closest)[0]] == oracle_answer(table, 0, 1, 0) == "circle"
    furthest = soc.encode_questions(np.array([0]), np.array([1]), np.array([1]))
    # orange (69, 69), grey (5, 69) and yellow (5, 5) are all equally far from the centre: orange (colour 3) wins
    assert soc.ANSWER_NAMES[soc.answer(table[None], furthest)[0]] == oracle_answer(table, 0, 1, 1) == "square"


def test_question_encoding_round_trips_and_categories():
    rng = np.random.default_rng(0)
    colours, relational, subtypes = rng.integers(0, 6, 300), rng.integers(0, 2, 300), rng.integers(0, 3, 300)
    encoded = soc.encode_questions(colours, relational, subtypes)
    assert encoded.shape == (300, 11) and encoded.dtype == np.float32 and (encoded.sum(1) == 3).all()
    for decoded, original in zip(soc.decode_questions(encoded), (colours, relational, subtypes)):
        np.testing.assert_array_equal(decoded, original)
    categories = soc.question_categories(encoded)
    np.testing.assert_array_equal(categories, 3 * relational + subtypes)
    masks = soc.category_masks(categories)
    assert (masks["non_relational"] == (relational == 0)).all() and (masks["relational"] == (relational == 1)).all()
    assert (masks["furthest"] == ((relational == 1) & (subtypes == 1))).all()
    assert soc.describe_question(encoded[0]).endswith("?")


# -------------------------------------------------------------------------------------------- objects and images
def test_generate_shapes_types_and_question_layout():
    generated = soc.generate(6, seed=0, questions_per_image=8)
    assert generated.images.shape == (6, 3, 75, 75) and generated.images.dtype == torch.float32
    assert generated.objects.shape == (6, 6, 4) and generated.questions.shape == (6, 8, 11)
    assert generated.answers.shape == generated.categories.shape == (6, 8)
    assert generated.answers.dtype == generated.categories.dtype == np.int64
    assert (generated.categories[:, :4] < 3).all() and (generated.categories[:, 4:] >= 3).all()
    assert 0.0 <= generated.images.min() and generated.images.max() <= 1.0


def test_objects_one_per_colour_inside_and_non_overlapping():
    objects = soc.generate(300, seed=2).objects
    np.testing.assert_array_equal(objects[..., 0], np.broadcast_to(np.arange(6), (300, 6)))
    assert np.isin(objects[..., 3], (0, 1)).all() and 0.2 < objects[..., 3].mean() < 0.8
    assert (objects[..., 1:3] >= 5).all() and (objects[..., 1:3] <= 69).all()
    assert (objects[..., 1:3] == np.round(objects[..., 1:3])).all()
    for table in objects:
        for a in range(6):
            for b in range(a + 1, 6):
                gap = max(abs(table[a, 1] - table[b, 1]), abs(table[a, 2] - table[b, 2]))
                assert gap >= 11, "two objects' 11x11 boxes share a pixel"
    # in pixels: every object is drawn whole (121 px square, 81 px circle), none covers another
    labels = soc.render_labels(objects).numpy()
    for index in range(0, 300, 7):
        for colour, _, _, shape in objects[index]:
            assert (labels[index] == colour + 1).sum() == (81 if shape == 1 else 121)


def test_render_draws_the_right_colour_and_shape_at_each_object():
    generated = soc.generate(30, seed=3)
    images = (generated.images * 255).round().to(torch.int64).numpy()  # (n, 3, 75, 75)
    white = np.array([255, 255, 255])
    for image, table in zip(images, generated.objects):
        # every object colour has a channel below 255: exactly the objects' pixels are not white
        not_white = (image != 255).any(axis=0).sum()
        assert not_white == sum(81 if shape == 1 else 121 for shape in table[:, 3])
        for colour, x, y, shape in table.astype(int):
            rgb = np.array(soc.COLOURS_RGB[colour])
            assert (image[:, y, x] == rgb).all(), "centre pixel"
            assert (image[:, y, x + 5] == rgb).all() and (image[:, y - 5, x] == rgb).all(), "edge midpoints"
            corner = image[:, y + 5, x + 5]
            if shape == 0:
                assert (corner == rgb).all(), "a square's corner pixel is coloured"
            else:
                assert (corner == white).all(), "a circle's corner pixel is background"
    single = soc.render(generated.objects[0])
    assert single.shape == (3, 75, 75) and torch.equal(single, generated.images[0])


def test_same_seed_same_data_other_seed_other_data():
    first, again, other = soc.generate(20, seed=1), soc.generate(20, seed=1), soc.generate(20, seed=2)
    assert torch.equal(first.images, again.images)
    for name in ("objects", "questions", "answers", "categories"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.objects, other.objects) and not torch.equal(first.images, other.images)


def test_data_is_split_by_idea_and_keeps_every_name_importable_from_data():
    from srnlib import sortofclevr
    from srnlib.sortofclevr import questions, rendering, robustness, scene
    owners = {scene: ("IMAGE_SIZE", "COLOUR_NAMES", "check_objects", "sample_objects"),
              questions: ("ANSWER_NAMES", "CATEGORY_NAMES", "FURTHEST_Q", "encode_questions", "answer",
                          "sample_questions"),
              rendering: ("PALETTE", "render", "render_labels", "labels_to_images"),
              robustness: ("rotate", "translate", "shift_inside", "sample_easy", "EasyQuestions")}
    for module, names in owners.items():
        for name in names:
            assert getattr(soc, name) is getattr(module, name), (module.__name__, name)
    for name in sortofclevr.__all__:
        assert hasattr(sortofclevr, name), name
    assert callable(sortofclevr.render) and callable(sortofclevr.generate)  # the function, not a module of that name


# ------------------------------------------------------------------------------------------------------- cache
def test_dataset_matches_generate_and_cache_is_reused(tmp_path):
    dataset = soc.SortOfClevrDataset(12, seed=4, questions_per_image=6, cache_dir=tmp_path)
    assert dataset.path.exists() and dataset.path.parent == tmp_path and len(dataset) == 72
    generated = soc.generate(12, seed=4, questions_per_image=6)
    image, question, answer, category = dataset[6 * 5 + 2]
    assert torch.equal(image, generated.images[5]) and image.dtype == torch.float32
    assert torch.equal(question, torch.from_numpy(generated.questions[5, 2]))
    assert int(answer) == generated.answers[5, 2] and int(category) == generated.categories[5, 2]
    assert answer.dtype == category.dtype == torch.int64
    before = dataset.path.stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid cache loads without a warning
        reloaded = soc.SortOfClevrDataset(12, seed=4, questions_per_image=6, cache_dir=tmp_path)
    assert dataset.path.stat().st_mtime_ns == before
    assert torch.equal(reloaded.labels, dataset.labels) and torch.equal(reloaded.answers, dataset.answers)
    loader = torch.utils.data.DataLoader(dataset, batch_size=10)
    images, questions, answers, categories = next(iter(loader))
    assert images.shape == (10, 3, 75, 75) and questions.shape == (10, 11) and answers.shape == (10,)


def test_corrupt_or_mismatching_cache_is_detected_and_regenerated(tmp_path):
    dataset = soc.SortOfClevrDataset(8, seed=0, questions_per_image=4, cache_dir=tmp_path)
    good = dataset.path.read_bytes()
    # flipped bytes inside the data: the checksum (or the zip reader) catches it
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    dataset.path.write_bytes(bytes(corrupt))
    with pytest.warns(UserWarning, match="unusable"):
        again = soc.SortOfClevrDataset(8, seed=0, questions_per_image=4, cache_dir=tmp_path)
    assert torch.equal(again.labels, dataset.labels) and dataset.path.read_bytes() != bytes(corrupt)
    # truncated file
    dataset.path.write_bytes(good[: len(good) // 3])
    with pytest.warns(UserWarning, match="unusable"):
        soc.SortOfClevrDataset(8, seed=0, questions_per_image=4, cache_dir=tmp_path)
    # another generation's file under this name: its stored key does not match
    other = soc.SortOfClevrDataset(8, seed=1, questions_per_image=4, cache_dir=tmp_path)
    dataset.path.write_bytes(other.path.read_bytes())
    with pytest.warns(UserWarning, match="does not match"):
        fixed = soc.SortOfClevrDataset(8, seed=0, questions_per_image=4, cache_dir=tmp_path)
    assert torch.equal(fixed.answers, dataset.answers) and not np.array_equal(fixed.objects, other.objects)
    assert not list(tmp_path.glob("*.tmp*")), "no temporary files left behind"


# --------------------------------------------------------------------------------------- rotations, easy tables
def pairwise_distances(table):
    return [math.dist(table[a, 1:3], table[b, 1:3]) for a in range(6) for b in range(a + 1, 6)]


def test_rotate_keeps_distances_colours_and_shapes_and_broadcasts():
    table = soc.generate(1, seed=9).objects[0]
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    rotated = soc.rotate(table, angles)
    assert rotated.shape == (720, 6, 4)
    np.testing.assert_allclose(rotated[0], table, atol=1e-9)
    np.testing.assert_allclose(soc.rotate(table, 2 * np.pi), table, atol=1e-9)
    np.testing.assert_allclose(rotated[..., 1:3].mean(1), np.broadcast_to(table[:, 1:3].mean(0), (720, 2)))
    for turned in rotated[::37]:
        np.testing.assert_allclose(pairwise_distances(turned), pairwise_distances(table), rtol=1e-9)
        np.testing.assert_array_equal(turned[:, [0, 3]], table[:, [0, 3]])
    # a quarter turn about an explicit centre, in pixel coordinates (y down): (x, y) -> (cx - (y - cy), cy + (x - cx))
    quarter = soc.rotate(table, np.pi / 2, centre=(37.0, 37.0))
    np.testing.assert_allclose(quarter[:, 1], 37 - (table[:, 2] - 37), atol=1e-9)
    np.testing.assert_allclose(quarter[:, 2], 37 + (table[:, 1] - 37), atol=1e-9)
    offsets = np.stack([np.arange(200) % 10 - 5, np.arange(200) // 20 - 5], axis=1)
    moved = soc.translate(table, offsets)
    assert moved.shape == (200, 6, 4)
    np.testing.assert_allclose(pairwise_distances(moved[123]), pairwise_distances(table))


def test_rotations_of_fitting_tables_stay_inside_the_image():
    easy = soc.sample_easy(20, seed=3)
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    for table in easy.objects:
        rotated = soc.rotate(table, angles)
        placed = soc.shift_inside(rotated)
        assert soc.inside_image(placed).all()
        np.testing.assert_allclose(pairwise_distances(placed[100]), pairwise_distances(table), rtol=1e-9)
    # a table wider than the image's free span cannot be placed, and says so
    wide = np.array([[0, 5, 5, 0], [1, 69, 69, 0], [2, 20, 5, 0], [3, 40, 5, 1], [4, 60, 5, 1], [5, 5, 40, 0]],
                    dtype=np.float64)
    assert not soc.fits_every_rotation(wide)
    assert not soc.inside_image(soc.shift_inside(soc.rotate(wide, np.pi / 4))).all()


def test_easy_configurations_satisfy_the_two_times_rule():
    easy = soc.sample_easy(60, seed=0)
    assert len(easy) == 60 and easy.questions.shape == (60, 11)
    assert (soc.question_categories(easy.questions) == soc.FURTHEST_Q).all()
    for table, colour, question, given in zip(easy.objects, easy.colours, easy.questions, easy.answers):
        assert decode_one(question)[0] == colour
        queried = table[int(colour), 1:3]
        distances = sorted(math.dist(queried, row[1:3]) for row in table if int(row[0]) != colour)
        assert distances[-1] >= 2 * distances[-2]
        assert soc.ANSWER_NAMES[given] == oracle_answer(table, int(colour), 1, 1)
    assert soc.fits_every_rotation(easy.objects).all() and soc.is_easy(easy.objects, easy.colours).all()
    # the answer does not change under rotation (distances are kept)
    rotated = soc.rotate(easy.objects, np.full(60, 1.234))
    np.testing.assert_array_equal(soc.answer(rotated, easy.questions), easy.answers)
    again = soc.sample_easy(60, seed=0)
    np.testing.assert_array_equal(again.objects, easy.objects)
    assert not np.array_equal(soc.sample_easy(60, seed=1).objects, easy.objects)


# -------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, error, name", [
    (lambda: soc.generate(-1), ValueError, "n"),
    (lambda: soc.generate(2.5), TypeError, "n"),
    (lambda: soc.generate(3, seed=-2), ValueError, "seed"),
    (lambda: soc.generate(3, questions_per_image=3), ValueError, "questions_per_image"),
    (lambda: soc.generate(3, questions_per_image=0), ValueError, "questions_per_image"),
    (lambda: soc.answer(np.zeros((2, 5, 4)), np.zeros((2, 1, 11))), ValueError, "objects"),
    (lambda: soc.answer(np.tile(np.array([[0, 10, 10, 0]] * 6, dtype=float), (1, 1, 1)),
                        soc.encode_questions([[0]], [[0]], [[0]])), ValueError, "objects"),
    (lambda: soc.answer(soc.generate(2).objects, np.ones((2, 1, 11))), ValueError, "questions"),
    (lambda: soc.answer(soc.generate(2).objects, np.zeros((3, 1, 11))), ValueError, "questions"),
    (lambda: soc.answer("tables", np.zeros((3, 1, 11))), TypeError, "objects"),
    (lambda: soc.encode_questions([7], [0], [0]), ValueError, "colours"),
    (lambda: soc.rotate(soc.generate(1).objects, 0.5, centre=(1.0, 2.0, 3.0)), ValueError, "centre"),
    (lambda: soc.rotate(soc.generate(2).objects, np.zeros(3)), ValueError, "angles"),
    (lambda: soc.translate(soc.generate(1).objects, (1.0,)), ValueError, "offsets"),
    (lambda: soc.sample_easy(5, ratio=0.5), ValueError, "ratio"),
    (lambda: soc.SortOfClevrDataset(0), ValueError, "n"),
])
def test_bad_arguments_raise_naming_the_argument(call, error, name):
    with pytest.raises(error, match=rf"\b{name}\b"):
        call()


def test_colour_blind_answers_follow_the_majority_of_the_six_objects():
    # four squares on the left (colours 0-3), two circles on the right (colours 4, 5)
    scene = np.array([[[0, 10, 10, 0], [1, 25, 10, 0], [2, 10, 60, 0], [3, 25, 60, 0],
                       [4, 60, 20, 1], [5, 60, 50, 1]]], dtype=np.float32)
    colours = np.array([[0, 4, 0, 4, 4]])
    relational = np.array([[0, 0, 0, 0, 1]])
    subtypes = np.array([[0, 0, 1, 1, 2]])  # shape, shape, horizontal, horizontal, count
    questions = soc.encode_questions(colours, relational, subtypes)
    blind = soc.colour_blind_answers(scene, questions)
    # most of the six are squares, on the left, and share their shape with 3 others: 4 of 6 -> square, yes, 4
    square, four = soc.ANSWER_NAMES.index("square"), soc.ANSWER_NAMES.index("4")
    assert blind.tolist() == [[square, square, soc.YES, soc.YES, four]]
    truth = soc.answer(scene, questions)
    assert (blind == truth).tolist() == [[True, False, True, False, False]]  # right for squares, wrong for circles
    # a single question per table gives one answer per table
    assert soc.colour_blind_answers(scene, questions[:, 0]).tolist() == [square]


def test_a_slice_of_images_is_the_images_stacked(tmp_path):
    dataset = soc.SortOfClevrDataset(5, seed=2, questions_per_image=2, cache_dir=tmp_path)
    batch = dataset.image(slice(3))
    assert batch.shape == (3, 3, 75, 75)
    assert torch.equal(batch, torch.stack([dataset.image(i) for i in range(3)]))
    assert dataset.image(slice(200)).shape[0] == 5  # asking for more than there are gives them all
