"""The 25-joint target layout and the mappings from source layouts onto it.

The layout is MediaPipe/BlazePose's body without eyes and mouth, the layout of the climbing data the
chapter fine-tunes on. A mapping is an int array over the *target* joints giving the source index of each,
or -1 where the source has no such joint (its heatmap stays all zero and it is never counted).
"""

from __future__ import annotations

import numpy as np

JOINTS: tuple[str, ...] = (
    "nose",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
NUM_JOINTS = len(JOINTS)  # 25
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINTS)}

COCO17: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

# Penn Action's 13 joints; its `head` is used as the nose (chapter 1.1).
PENN13: tuple[str, ...] = (
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

# MediaPipe Pose / BlazePose 33 landmarks.
BLAZEPOSE33: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)


# OpenPose BODY_25 (its pose_keypoints_2d order).
BODY25: tuple[str, ...] = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "mid_hip",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
    "left_big_toe",
    "left_small_toe",
    "left_heel",
    "right_big_toe",
    "right_small_toe",
    "right_heel",
)

# OpenPose COCO-18: BODY_25 without mid_hip and feet.
COCO18: tuple[str, ...] = tuple(n for n in BODY25[:19] if n != "mid_hip")

# Halpe-26 (AlphaPose, rtmlib): COCO-17, then head, neck, hip centre and the feet.
HALPE26: tuple[str, ...] = COCO17 + (
    "head",
    "neck",
    "hip",
    "left_big_toe",
    "right_big_toe",
    "left_small_toe",
    "right_small_toe",
    "left_heel",
    "right_heel",
)

# One hand, 21 keypoints (OpenPose / COCO-WholeBody order): the wrist, then four per finger from the palm.
FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
HAND21: tuple[str, ...] = ("wrist",) + tuple(f"{f}{i}" for f in FINGERS for i in range(1, 5))

# COCO-WholeBody: COCO-17 body, 6 foot, 68 face, 21 left-hand and 21 right-hand keypoints.
WHOLEBODY133: tuple[str, ...] = (
    COCO17
    + ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
    + tuple(f"face_{i}" for i in range(68))
    + tuple(f"left_hand_{n}" for n in HAND21)
    + tuple(f"right_hand_{n}" for n in HAND21)
)


def _mapping(source: tuple[str, ...], aliases: dict[str, str] | None = None) -> np.ndarray:
    aliases = aliases or {}
    index = {aliases.get(name, name): i for i, name in enumerate(source)}
    return np.array([index.get(name, -1) for name in JOINTS], dtype=np.int64)


# Target joint -> source index (or -1).
COCO17_TO_25 = _mapping(COCO17)
PENN13_TO_25 = _mapping(PENN13, aliases={"head": "nose"})
BLAZEPOSE33_TO_25 = _mapping(BLAZEPOSE33)

# The big toe stands in for MediaPipe's foot index (both are the tip of the foot).
_FEET = {"left_big_toe": "left_foot_index", "right_big_toe": "right_foot_index"}
BODY25_TO_25 = _mapping(BODY25, aliases=_FEET)
COCO18_TO_25 = _mapping(COCO18)
HALPE26_TO_25 = _mapping(HALPE26, aliases=_FEET)
# MediaPipe's pinky and index landmarks are the knuckles of those fingers, its thumb the thumb's second joint.
WHOLEBODY133_TO_25 = _mapping(
    WHOLEBODY133,
    aliases={
        **_FEET,
        **{f"{side}_hand_pinky_finger1": f"{side}_pinky" for side in ("left", "right")},
        **{f"{side}_hand_forefinger1": f"{side}_index" for side in ("left", "right")},
        **{f"{side}_hand_thumb2": f"{side}_thumb" for side in ("left", "right")},
    },
)
HAND21_TO_25 = np.full(NUM_JOINTS, -1, dtype=np.int64)  # a hand alone holds none of the body's joints

SOURCE_LAYOUTS: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
    "coco17": (COCO17, COCO17_TO_25),
    "penn13": (PENN13, PENN13_TO_25),
    "blazepose33": (BLAZEPOSE33, BLAZEPOSE33_TO_25),
    "layout25": (JOINTS, np.arange(NUM_JOINTS, dtype=np.int64)),
    "body25": (BODY25, BODY25_TO_25),
    "coco18": (COCO18, COCO18_TO_25),
    "halpe26": (HALPE26, HALPE26_TO_25),
    "wholebody133": (WHOLEBODY133, WHOLEBODY133_TO_25),
    "hand21": (HAND21, HAND21_TO_25),
}

# Keypoint counts that name their layout; 25 does not (OpenPose BODY_25 or this package's layout), and any
# other count is read as unnamed keypoints, which the classic filters smooth but a model cannot map.
LAYOUT_OF_COUNT: dict[int, str] = {
    13: "penn13",
    17: "coco17",
    18: "coco18",
    21: "hand21",
    26: "halpe26",
    33: "blazepose33",
    133: "wholebody133",
}
AMBIGUOUS_COUNTS: dict[int, tuple[str, ...]] = {25: ("body25", "layout25")}


def unnamed_layout(k: int) -> str:
    """The layout of K keypoints whose names are not known: registered on first use, maps to nothing."""
    name = f"unnamed{k}"
    if name not in SOURCE_LAYOUTS:
        SOURCE_LAYOUTS[name] = (tuple(f"keypoint_{i}" for i in range(k)), np.full(NUM_JOINTS, -1, np.int64))
    return name


def model_layout_problem(layout: str) -> str | None:
    """Why a model cannot take keypoints of `layout` (None: it can)."""
    names, mapping = SOURCE_LAYOUTS[layout]
    k = len(names)
    if layout.startswith("unnamed"):
        if k in AMBIGUOUS_COUNTS:
            options = " or ".join(f"--layout {n}" for n in AMBIGUOUS_COUNTS[k])
            could_be = " or ".join(AMBIGUOUS_COUNTS[k])
            return f"{k} keypoints per person could be {could_be}: name the layout with {options}"
        return f"{k} keypoints per person is no layout a model knows; give --layout, or use --filter"
    if not (mapping >= 0).any():
        return f"layout {layout} holds none of the joints a model knows; use --filter"
    return None


# Report groups of Tables 3-4, in table order.
GROUPS: dict[str, tuple[int, ...]] = {
    "nose": (0,),
    "ear": (1, 2),
    "shoulder": (3, 4),
    "elbow": (5, 6),
    "wrist": (7, 8),
    "hip": (15, 16),
    "knee": (17, 18),
    "ankle": (19, 20),
}

# Left/right partner of every joint of the 25-joint layout (nose is its own partner); used for swaps.
FLIP_PAIRS: np.ndarray = np.array(
    [
        JOINT_INDEX[n.replace("left_", "right_") if n.startswith("left_") else n.replace("right_", "left_")]
        for n in JOINTS
    ],
    dtype=np.int64,
)

# Joints whose distances define the torso diameter.
LEFT_SHOULDER, RIGHT_SHOULDER = JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]
LEFT_HIP, RIGHT_HIP = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]


def to_layout25(points: np.ndarray, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map source points `(..., K_src, C)` onto the 25-joint layout.

    Returns `(points25 (..., 25, C), has_joint (25,) bool)`; joints the source lacks are zero.
    """
    has = mapping >= 0
    out = np.zeros(points.shape[:-2] + (NUM_JOINTS, points.shape[-1]), dtype=points.dtype)
    out[..., has, :] = points[..., mapping[has], :]
    return out, has
