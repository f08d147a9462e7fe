"""Input checks: blur, subject/background contrast and a subject cut by the frame.

Every picture is drawn here: a printed box standing on a white background.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from meshforge.image.quality import (
    BLUR_THRESHOLD,
    CONTRAST_THRESHOLD,
    BorderContact,
    blur_score,
    border_contact,
    check_quality,
    edge_contrast,
)

SIZE = 512
BOX = (106, 76, 406, 436)  # x0, y0, x1, y1 (exclusive)


def product(
    colour: tuple[int, int, int] = (200, 60, 40),
    background: tuple[int, int, int] = (255, 255, 255),
    box: tuple[int, int, int, int] = BOX,
    size: int = SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """A box with a printed label (stripes, a disc, text) and its exact mask."""
    rgb = np.empty((size, size, 3), np.uint8)
    rgb[:] = background
    x0, y0, x1, y1 = box
    rgb[y0:y1, x0:x1] = colour
    label = rgb[y0 + 60 : y1 - 60, x0 + 40 : x1 - 40]  # a view: drawing on it prints the box
    for i in range(0, label.shape[0], 24):
        label[i : i + 8] = (30, 30, 120)
    cv2.circle(label, (label.shape[1] // 2, label.shape[0] // 2), 50, (250, 220, 40), -1)
    cv2.putText(label, "MESH", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (10, 10, 10), 3)
    alpha = np.zeros((size, size), np.float32)
    alpha[y0:y1, x0:x1] = 1.0
    return rgb, alpha


def blurred(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(cv2.GaussianBlur(rgb, (0, 0), sigma), np.uint8)


def codes(rgb: np.ndarray, alpha: np.ndarray) -> list[str]:
    notices = check_quality(rgb, alpha)
    assert all(n.stage == "check" for n in notices)
    return [n.code for n in notices]


def test_a_sharp_product_on_white_passes() -> None:
    rgb, alpha = product()
    assert check_quality(rgb, alpha) == []
    assert blur_score(rgb, alpha) > 10 * BLUR_THRESHOLD
    assert edge_contrast(rgb, alpha) > 3 * CONTRAST_THRESHOLD
    assert border_contact(alpha) == BorderContact(0.0, 0.0, 0.0, 0.0, 0.0)


def test_blurred_with_sigma_4_warns_blur() -> None:
    rgb, alpha = product()
    soft = blurred(rgb, 4.0)
    assert codes(soft, alpha) == ["blur"]
    message = check_quality(soft, alpha)[0].message
    score = blur_score(soft, alpha)
    assert score is not None
    assert f"sharpness {score:.1f}" in message
    assert "in focus" in message


def test_blur_score_falls_as_the_blur_grows() -> None:
    rgb, alpha = product()
    scores = [blur_score(blurred(rgb, s) if s else rgb, alpha) for s in (0, 0.5, 1, 2, 4, 8)]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)
    assert scores[0] > BLUR_THRESHOLD > scores[4]


def test_blur_score_units_are_laplacian_variance_of_grey_0_255() -> None:
    alpha = np.zeros((200, 200), np.float32)
    alpha[20:180, 20:180] = 1.0
    flat = np.full((200, 200, 3), 128, np.uint8)
    assert blur_score(flat, alpha) == 0.0
    # A one-pixel black/white checkerboard: every Laplacian is +-4 * 255.
    checker = ((np.indices((200, 200)).sum(axis=0) % 2) * 255).astype(np.uint8)
    rgb = np.repeat(checker[..., None], 3, axis=2)
    assert blur_score(rgb, alpha) == pytest.approx(1020.0**2, rel=1e-3)


def test_blur_score_does_not_depend_on_resolution() -> None:
    # The subject box is 512 px at 1x, 2048 px at 4x: both are measured at 512 px, and area
    # averaging of the 4x nearest-neighbour copy gives back the 1x image exactly.
    rgb, alpha = product(box=(20, 20, 532, 400), size=552)
    big_rgb = np.repeat(np.repeat(rgb, 4, axis=0), 4, axis=1)
    big_alpha = np.repeat(np.repeat(alpha, 4, axis=0), 4, axis=1)
    small, large = blur_score(rgb, alpha), blur_score(big_rgb, big_alpha)
    assert small is not None
    assert large == pytest.approx(small, rel=1e-4)


def test_white_box_on_white_warns_low_contrast() -> None:
    rgb, alpha = product(colour=(240, 240, 240))
    assert codes(rgb, alpha) == ["low-contrast"]
    contrast = edge_contrast(rgb, alpha)
    assert contrast is not None
    assert contrast < CONTRAST_THRESHOLD
    assert f"{contrast:.1f}" in check_quality(rgb, alpha)[0].message


def test_edge_contrast_is_the_lab_distance_across_the_outline() -> None:
    black, alpha = product(colour=(0, 0, 0))
    assert edge_contrast(black, alpha) == pytest.approx(100.0, abs=0.01)  # L* 0 against L* 100
    values = [edge_contrast(product(colour=(g, g, g))[0], alpha) for g in (0, 128, 200, 240, 250)]
    assert values == sorted(values, reverse=True)
    same, _ = product(colour=(255, 255, 255))
    assert edge_contrast(same, alpha) == 0.0


def test_edge_contrast_pairs_neighbours_not_mean_colours() -> None:
    # Left half dark, right half light, on a grey between them: the mean colours match,
    # but every stretch of the outline is clearly visible.
    rgb, alpha = product(background=(128, 128, 128))
    x0, y0, x1, y1 = BOX
    rgb[y0:y1, x0 : (x0 + x1) // 2] = (20, 20, 20)
    rgb[y0:y1, (x0 + x1) // 2 : x1] = (236, 236, 236)
    contrast = edge_contrast(rgb, alpha)
    assert contrast is not None
    assert contrast > 3 * CONTRAST_THRESHOLD


def test_subject_running_off_the_bottom_warns_cropped() -> None:
    x0, x1 = BOX[0], BOX[2]
    rgb, alpha = product(box=(x0, 200, x1, SIZE))
    assert codes(rgb, alpha) == ["subject-cropped"]
    contact = border_contact(alpha)
    width, height = x1 - x0, SIZE - 200
    assert contact.bottom == width / SIZE  # 300 / 512
    assert contact.top == contact.left == contact.right == 0.0
    assert contact.outline == width / (2 * width + 2 * height - 4)  # the box's ring of pixels
    assert contact.worst_side == ("bottom", width / SIZE)
    message = check_quality(rgb, alpha)[0].message
    assert "bottom edge" in message
    assert "59% of that edge" in message


def test_a_touch_of_the_frame_is_tolerated() -> None:
    # A 6-pixel stub reaching the left edge: under 2% of the outline and 5% of the side.
    rgb, alpha = product()
    alpha[250:256, 0 : BOX[0]] = 1.0
    rgb[250:256, 0 : BOX[0]] = (200, 60, 40)
    contact = border_contact(alpha)
    assert contact.left == 6 / SIZE
    assert 0 < contact.outline < 0.02
    assert "subject-cropped" not in codes(rgb, alpha)


def test_no_subject_gives_no_scores_and_no_warnings() -> None:
    rgb, _ = product()
    empty = np.zeros((SIZE, SIZE), np.float32)
    assert blur_score(rgb, empty) is None
    assert edge_contrast(rgb, empty) is None
    assert border_contact(empty).outline == 0.0
    assert check_quality(rgb, empty) == []


def test_a_subject_filling_the_frame_has_no_contrast_score() -> None:
    rgb, _ = product()
    full = np.ones((SIZE, SIZE), np.float32)
    assert edge_contrast(rgb, full) is None  # there is no background to compare with
    assert codes(rgb, full) == ["subject-cropped"]


def test_soft_alpha_is_thresholded_at_one_half() -> None:
    rgb, alpha = product()
    soft = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    assert border_contact(soft) == border_contact(alpha)
    assert check_quality(rgb, soft) == []


def test_mismatched_shapes_are_a_programming_error() -> None:
    rgb, alpha = product()
    with pytest.raises(ValueError, match="H x W"):
        check_quality(rgb, alpha[:-1])
    with pytest.raises(ValueError, match="H x W"):
        blur_score(rgb[..., 0], alpha)
