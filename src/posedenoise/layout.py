"""The 25-joint target layout (SPEC section 2) and the mappings from source layouts onto it.

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


def _mapping(source: tuple[str, ...], aliases: dict[str, str] | None = None) -> np.ndarray:
    aliases = aliases or {}
    index = {aliases.get(name, name): i for i, name in enumerate(source)}
    return np.array([index.get(name, -1) for name in JOINTS], dtype=np.int64)


# Target joint -> source index (or -1).
COCO17_TO_25 = _mapping(COCO17)
PENN13_TO_25 = _mapping(PENN13, aliases={"head": "nose"})
BLAZEPOSE33_TO_25 = _mapping(BLAZEPOSE33)

SOURCE_LAYOUTS: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
    "coco17": (COCO17, COCO17_TO_25),
    "penn13": (PENN13, PENN13_TO_25),
    "blazepose33": (BLAZEPOSE33, BLAZEPOSE33_TO_25),
    "layout25": (JOINTS, np.arange(NUM_JOINTS, dtype=np.int64)),
}

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

# Joints whose distances define the torso diameter (SPEC section 4).
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


def from_layout25(points25: np.ndarray, mapping: np.ndarray, into: np.ndarray) -> np.ndarray:
    """Write 25-joint points back into a copy of the source array `into` (..., K_src, C)."""
    out = into.copy()
    has = mapping >= 0
    out[..., mapping[has], :] = points25[..., has, :]
    return out
