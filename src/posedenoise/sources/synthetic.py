"""Synthetic pose tracks: procedurally animated people, so that everything runs with no download.

Each video is one person performing one action, seen by a static camera:

- A 3D articulated skeleton (pelvis root -> spine -> neck -> head with nose and ears; shoulders -> elbows
  -> wrists -> pinky/index/thumb points; hips -> knees -> ankles -> heel/foot index) is posed by forward
  kinematics from 26 joint angles. Segment lengths are random body proportions (constant per video).
- The angles follow smooth trajectories around action-specific key poses: a base pose plus the first two
  harmonics of an action phase, plus slow random drift. Periodic actions (walk, run, jumping jacks, squat,
  sit-up, push-up, bench press, pull-up, jump rope, strumming, toprock, footwork, windmill, ...) advance
  the phase at a slowly varying rate; single movements (tennis forehand and serve, baseball pitch and swing,
  golf swing, bowling, clean and jerk) sweep it once with an ease-in/ease-out.
- The lowest body point touches the floor (or the hands hang from a bar), plus flight phases for jumps;
  walkers and runners move through the scene; breakdancers spin.
- An orthographic camera with a random viewing direction, elevation, in-plane roll and distance (scale)
  projects the skeleton to image pixels.
- Occlusions come in contiguous runs, as in annotated video: the face and the far ear turn away from the
  camera, arm and leg points pass behind the torso (self-occlusion), random limb runs go missing, and the
  camera sometimes frames the upper body only, for a whole video or a run of frames (the lower body leaves
  the image).

Half of the videos (even index) are emitted in the COCO-17 layout of BRACE (nose, ears, no hands or feet)
with breakdancing-like actions, half (odd index) in the 13-joint layout of Penn Action (its `head` point,
the centre of the head, stored as the nose; no ears) with Penn Action's 15 actions. Only the joints the
source layout has are present. Videos are 30 fps.

Calibration: after the chapter's crop (square box around the present joints, +10% per side, 56 x 56 grid)
the mean torso diameter is 22.3 px (measured on 1.7 million frames), as in the chapter's data. A standing
full body gives about 15 px; crouched, seated and lying poses and, above all, upper-body framings (the
image border between mid-thigh and mid-shin; `SyntheticConfig.closeup`, 70 % of the videos by default)
bring the mean up.

Everything is vectorised over a batch of videos and their frames; a batch's random numbers come from
`numpy.random.default_rng([seed, batch_index])`, so a seed gives identical tracks, and the first N
videos do not depend on how many are generated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from posedenoise.layout import COCO17_TO_25, JOINT_INDEX, NUM_JOINTS, PENN13_TO_25
from posedenoise.sources import Track

BATCH_VIDEOS = 64  # videos simulated together (fixed: part of what a seed means)

# ----------------------------------------------------------------------------------------------------------
# Joint angles (degrees in the tables). Conventions, in the body frame x = subject's left, y = up,
# z = forward: yaw turns the body about the vertical (0 faces the camera); pitch tilts the whole body
# forward (+90 lying face down, -90 lying on the back); *_flex moves a limb forward / bends the trunk and
# neck forward; *_abd raises a limb sideways (negative: across the body); *_twist turns the upper arm
# outward; elbow and knee flexion are >= 0; ankle > 0 points the toes down.
DOFS: tuple[str, ...] = (
    "yaw", "pitch", "roll", "spine_flex", "spine_lat", "spine_twist", "neck_flex", "neck_twist",
    "l_sh_flex", "l_sh_abd", "l_sh_twist", "l_elbow", "l_wrist",
    "r_sh_flex", "r_sh_abd", "r_sh_twist", "r_elbow", "r_wrist",
    "l_hip_flex", "l_hip_abd", "l_knee", "l_ankle",
    "r_hip_flex", "r_hip_abd", "r_knee", "r_ankle",
)  # fmt: skip
DOF_INDEX = {name: i for i, name in enumerate(DOFS)}
NUM_DOFS = len(DOFS)
# Mirroring a motion (left-handed players, the other lead leg) swaps left/right and negates these.
_MIRROR_PERMUTATION = np.array(
    [DOF_INDEX[n.replace("l_", "r_", 1) if n.startswith("l_") else n.replace("r_", "l_", 1)] for n in DOFS]
)
_MIRROR_SIGN = np.array(
    [-1.0 if n in ("yaw", "roll", "spine_lat", "spine_twist", "neck_twist") else 1.0 for n in DOFS]
)

HEAD_CENTRE = NUM_JOINTS  # extra simulated point (index 25): the centre of the head, Penn Action's `head`
_NUM_POINTS = NUM_JOINTS + 1


@dataclass(frozen=True)
class Motion:
    """One action's movement pattern. Angle entries: dof -> (base, amp1, phase1, amp2, phase2).

    angle(phase) = base + amp1 * sin(phase + 2 pi phase1) + amp2 * sin(2 phase + 2 pi phase2) (degrees;
    phases in cycles). For single movements the value at phase 0 is subtracted from each harmonic, so
    `base` is the ready pose the movement starts from.
    """

    action: str  # label put on the tracks
    angles: dict[str, tuple[float, ...]]
    cycle: bool = True  # periodic (True) or a single movement (False)
    rate: tuple[float, float] = (0.8, 1.2)  # cycles per second (periodic) or duration in seconds (single)
    sweep: float = 1.0  # single movements: the fraction of a phase cycle the movement covers
    views: tuple[float, ...] = (0.0, 30.0, -30.0, 90.0, -90.0)  # camera yaw choices (deg; 0 = frontal)
    spin: float = 0.0  # whole-body turns per cycle (breaking)
    jump: float = 0.0  # flight height (body heights)
    jump_harmonic: int = 1  # flights per cycle
    speed: float = 0.0  # forward speed (body heights per second)
    hang: bool = False  # hands fixed (hanging from a bar) instead of the lowest point on the floor
    closeup: float = 0.0  # probability that the camera frames only the upper body for the whole video
    noise: float = 4.0  # amplitude of the slow random drift of every angle (deg)


def _m(base: float = 0.0, amp1: float = 0.0, phase1: float = 0.0, amp2: float = 0.0, phase2: float = 0.0):
    return (base, amp1, phase1, amp2, phase2)


def _both(joint: str, base=0.0, amp1=0.0, phase1=0.0, amp2=0.0, phase2=0.0, offset=0.0) -> dict:
    """Left and right entries; the right side runs `offset` cycles later (0.5 = alternating)."""
    return {
        f"l_{joint}": _m(base, amp1, phase1, amp2, phase2),
        f"r_{joint}": _m(base, amp1, phase1 + offset, amp2, phase2 + 2 * offset),
    }


def _angles(*parts: dict, **single: tuple) -> dict:
    out = {}
    for part in parts:
        out.update(part)
    out.update(single)
    return out


_ANY_VIEW = (0.0, 45.0, -45.0, 90.0, -90.0, 135.0, -135.0, 180.0)
_SIDE_VIEWS = (90.0, -90.0, 60.0, -60.0, 120.0, -120.0)
_UP = -0.25  # phase for a (1 - cos) bump: 0 at phase 0, peak at half a cycle

MOTIONS: dict[str, Motion] = {
    # ---- everyday / fitness ----
    "walk": Motion(
        "walk",
        _angles(
            _both("hip_flex", 8, 24, 0, offset=0.5),
            _both("knee", 28, 26, 0.2, 8, 0.1, offset=0.5),
            _both("ankle", 0, 10, 0.9, offset=0.5),
            _both("sh_flex", 0, 18, 0.5, offset=0.5),
            _both("sh_abd", 8),
            _both("elbow", 20, 10, 0.5, offset=0.5),
            spine_flex=_m(5, 0, 0, 2, 0), spine_twist=_m(0, 6, 0.5), roll=_m(0, 3, 0), neck_flex=_m(5),
        ),
        rate=(0.8, 1.0), views=_ANY_VIEW, speed=0.75, noise=3.0,
    ),
    "run": Motion(
        "run",
        _angles(
            _both("hip_flex", 18, 38, 0, offset=0.5),
            _both("knee", 55, 45, 0.2, 10, 0.1, offset=0.5),
            _both("ankle", 5, 18, 0.9, offset=0.5),
            _both("sh_flex", 10, 38, 0.5, offset=0.5),
            _both("sh_abd", 12),
            _both("elbow", 85, 12, 0.5, offset=0.5),
            spine_flex=_m(12, 0, 0, 3, 0), spine_twist=_m(0, 10, 0.5),
        ),
        rate=(1.3, 1.6), views=_ANY_VIEW, speed=1.8, jump=0.04, jump_harmonic=2, noise=3.0,
    ),
    "jumping_jacks": Motion(
        "jumping_jacks",
        _angles(
            _both("sh_abd", 85, 78, _UP), _both("sh_flex", 5), _both("elbow", 15, 8, _UP),
            _both("hip_abd", 14, 12, _UP), _both("knee", 12, 8, 0.25), _both("ankle", 10, 8, 0.25),
        ),
        rate=(0.8, 1.2), views=(0.0, 0.0, 20.0, -20.0, 45.0, -45.0, 180.0), jump=0.05, jump_harmonic=2,
        closeup=0.1,
    ),
    "squat": Motion(
        "squat",
        _angles(
            _both("hip_flex", 55, 50, _UP), _both("knee", 62, 60, _UP), _both("ankle", -12, -12, _UP),
            _both("sh_flex", 45, 40, _UP), _both("sh_abd", 10), _both("elbow", 10),
            spine_flex=_m(15, 15, _UP), neck_flex=_m(-5, -10, _UP),
        ),
        rate=(0.3, 0.5), views=(90.0, -90.0, 45.0, -45.0, 0.0, 30.0, -30.0), closeup=0.15,
    ),
    "squat_barbell": Motion(
        "squat",
        _angles(
            _both("hip_flex", 55, 50, _UP), _both("knee", 62, 60, _UP), _both("ankle", -12, -12, _UP),
            _both("sh_abd", 75), _both("sh_flex", 15), _both("elbow", 125), _both("sh_twist", 60),
            spine_flex=_m(18, 17, _UP), neck_flex=_m(-5, -10, _UP),
        ),
        rate=(0.25, 0.45), views=(90.0, -90.0, 45.0, -45.0, 0.0, 30.0, -30.0), closeup=0.15,
    ),
    "situp": Motion(
        "situp",
        _angles(
            _both("hip_flex", 55), _both("knee", 100), _both("ankle", -10),
            _both("sh_flex", 150), _both("sh_abd", 45), _both("elbow", 135), _both("sh_twist", 30),
            pitch=_m(-90), spine_flex=_m(35, 35, _UP), neck_flex=_m(25, 10, _UP),
        ),
        rate=(0.3, 0.55), views=_SIDE_VIEWS, closeup=0.15,
    ),
    "situp_crossed": Motion(
        "situp",
        _angles(
            _both("hip_flex", 55), _both("knee", 100), _both("ankle", -10),
            _both("sh_flex", 45), _both("sh_abd", -15), _both("elbow", 120),
            pitch=_m(-90), spine_flex=_m(35, 35, _UP), neck_flex=_m(25, 10, _UP),
        ),
        rate=(0.3, 0.55), views=_SIDE_VIEWS, closeup=0.15,
    ),
    "pushup": Motion(
        "pushup",
        _angles(
            _both("sh_flex", 52, -17, _UP), _both("sh_abd", 15), _both("elbow", 45, 45, _UP),
            _both("hip_flex", 0), _both("knee", 4), _both("ankle", -10),
            pitch=_m(76, 6, _UP), neck_flex=_m(-10),
        ),
        rate=(0.4, 0.75), views=_SIDE_VIEWS, closeup=0.1,
    ),
    "bench_press": Motion(
        "bench_press",
        _angles(
            _both("sh_flex", 55, -35, _UP), _both("sh_abd", 50), _both("elbow", 55, 45, _UP),
            _both("hip_flex", 15), _both("knee", 85),
            pitch=_m(-90), neck_flex=_m(10),
        ),
        rate=(0.3, 0.5), views=_SIDE_VIEWS, closeup=0.5,
    ),
    "pullup": Motion(
        "pullup",
        _angles(
            _both("sh_abd", 110, -50, _UP), _both("elbow", 70, 60, _UP), _both("sh_twist", 90),
            _both("hip_flex", 15), _both("knee", 45, 10, 0), _both("ankle", 20),
            spine_flex=_m(-5),
        ),
        rate=(0.35, 0.6), views=(0.0, 180.0, 20.0, -20.0, 160.0, -160.0, 60.0), hang=True, closeup=0.3,
    ),
    "jump_rope": Motion(
        "jump_rope",
        _angles(
            _both("hip_flex", 10, 6, 0.25), _both("knee", 20, 12, 0.25), _both("ankle", 15, 15, 0.25),
            _both("sh_abd", 25), _both("sh_flex", 15, 5, 0), _both("elbow", 75), _both("wrist", 0, 20, 0),
            spine_flex=_m(5),
        ),
        rate=(1.6, 2.3), views=(0.0, 30.0, -30.0, 90.0, -90.0), jump=0.04, closeup=0.1,
    ),
    "strum_guitar": Motion(
        "strum_guitar",
        _angles(
            _both("hip_flex", 85), _both("knee", 85), _both("hip_abd", 10),
            spine_flex=_m(12), neck_flex=_m(20),
            l_sh_flex=_m(30), l_sh_abd=_m(30), l_elbow=_m(105, 4, 0.1), l_sh_twist=_m(-20),
            r_sh_flex=_m(25, 5, 0), r_sh_abd=_m(25), r_elbow=_m(80, 14, 0), r_wrist=_m(0, 20, 0.1),
        ),
        rate=(1.5, 3.0), views=(0.0, 25.0, -25.0, 45.0, -45.0), closeup=0.8, noise=3.0,
    ),
    # ---- single sports movements ----
    "tennis_forehand": Motion(
        "tennis_forehand",
        _angles(
            _both("hip_abd", 12), _both("ankle", -10),
            spine_flex=_m(20, 0, 0, -8, 0), spine_twist=_m(0, -50, 0), yaw=_m(0, -25, 0),
            r_sh_flex=_m(40, -70, 0, 20, 0.25), r_sh_abd=_m(25, 25, 0), r_elbow=_m(50, 20, 0),
            l_sh_flex=_m(45, 35, 0), l_sh_abd=_m(15, 20, 0), l_elbow=_m(60),
            l_hip_flex=_m(25, 15, 0), r_hip_flex=_m(25, -10, 0), l_knee=_m(35, -10, 0), r_knee=_m(35, 15, 0),
        ),
        cycle=False, rate=(0.8, 1.3), views=_SIDE_VIEWS + (180.0, 150.0, -150.0),
    ),
    "tennis_serve": Motion(
        "tennis_serve",
        _angles(
            _both("knee", 10, 20, _UP), _both("hip_flex", 5, 8, _UP),
            spine_flex=_m(5, -12, _UP, 12, 0.55), yaw=_m(0, 25, -0.4),
            l_sh_flex=_m(20, 70, _UP), l_elbow=_m(10),
            r_sh_flex=_m(20, 90, -0.4), r_sh_abd=_m(20, 38, _UP),
            r_elbow=_m(10, 50, _UP), r_sh_twist=_m(0, 45, _UP),
        ),
        cycle=False, rate=(1.3, 2.0), views=_SIDE_VIEWS + (180.0,),
    ),
    "baseball_pitch": Motion(
        "baseball_pitch",
        _angles(
            l_hip_flex=_m(5, 35, _UP), l_knee=_m(10, 40, _UP),
            r_knee=_m(10, 15, _UP), r_hip_flex=_m(5, -10, -0.5),
            r_sh_abd=_m(15, 40, _UP), r_sh_flex=_m(10, 60, -0.4),
            r_elbow=_m(15, 40, _UP), r_sh_twist=_m(0, 45, _UP),
            l_sh_flex=_m(20, 40, _UP), l_elbow=_m(60),
            spine_flex=_m(5, 15, -0.5), spine_twist=_m(0, -35, 0), yaw=_m(0, 20, -0.5),
        ),
        cycle=False, rate=(1.2, 1.8), views=_SIDE_VIEWS + (0.0, 180.0),
    ),
    "baseball_swing": Motion(
        "baseball_swing",
        _angles(
            _both("hip_flex", 25), _both("hip_abd", 18),
            spine_flex=_m(20), spine_twist=_m(0, 40, _UP, -15, 0), yaw=_m(0, 15, _UP),
            l_sh_flex=_m(50, 15, _UP), l_sh_abd=_m(-20, 30, _UP), l_elbow=_m(90, -40, _UP),
            r_sh_flex=_m(30, 25, _UP), r_sh_abd=_m(40, -20, _UP), r_elbow=_m(110, -40, _UP),
            l_knee=_m(30, -10, _UP), r_knee=_m(30, 5, _UP),
        ),
        cycle=False, rate=(0.7, 1.1), sweep=0.5, views=_SIDE_VIEWS + (0.0, 180.0),
    ),
    "golf_swing": Motion(
        "golf_swing",
        _angles(
            _both("knee", 20), _both("hip_flex", 25), _both("hip_abd", 12),
            spine_flex=_m(35, 10, 0.25), spine_twist=_m(0, -75, 0), yaw=_m(0, 15, 0),
            l_sh_flex=_m(40, 0, 0, 40, _UP), r_sh_flex=_m(40, 0, 0, 40, _UP),
            l_sh_abd=_m(-10, -25, 0), r_sh_abd=_m(-10, 25, 0), r_elbow=_m(15, 45, 0), l_elbow=_m(10, -45, 0),
        ),
        cycle=False, rate=(1.5, 2.2), sweep=0.75, views=(0.0, 180.0, 90.0, -90.0, 30.0, -30.0),
    ),
    "bowling": Motion(
        "bowling",
        _angles(
            l_hip_flex=_m(10, 35, _UP, 20, 0), l_knee=_m(15, 30, _UP, 20, 0.25),
            r_hip_flex=_m(5, -15, _UP, -20, 0), r_knee=_m(15, 15, _UP, 20, 0.75),
            r_sh_flex=_m(40, 70, -0.5), r_elbow=_m(10), l_sh_abd=_m(20, 25, _UP), l_sh_flex=_m(20, 10, _UP),
            spine_flex=_m(10, 15, _UP),
        ),
        cycle=False, rate=(1.8, 2.6), sweep=0.75, views=(90.0, -90.0, 45.0, -45.0, 180.0, 0.0), speed=0.5,
    ),
    "clean_and_jerk": Motion(
        "clean_and_jerk",
        _angles(
            _both("sh_flex", 60, 57.5, _UP, -13.75, _UP), _both("sh_abd", 10, 2.5, _UP, 3.75, _UP),
            _both("elbow", 0, 0, 0, 75, _UP),
            l_hip_flex=_m(100, -30, _UP, -20, _UP), r_hip_flex=_m(100, -62.5, _UP, -3.75, _UP),
            l_knee=_m(110, -35, _UP, -17.5, _UP), r_knee=_m(110, -40, _UP, -15, _UP),
            spine_flex=_m(35, -17.5, _UP, -6.25, _UP),
        ),
        cycle=False, rate=(3.0, 4.5), sweep=0.5, views=(90.0, -90.0, 45.0, -45.0, 0.0), closeup=0.1,
    ),
    # ---- breaking (BRACE) ----
    "toprock": Motion(
        "toprock",
        _angles(
            _both("hip_flex", 20, 30, 0, offset=0.5), _both("hip_abd", 0, 15, 0.25, offset=0.5),
            _both("knee", 35, 25, 0.15, offset=0.5), _both("ankle", 0, 10, 0.9, offset=0.5),
            _both("sh_flex", 35, 40, 0.5, offset=-0.5), _both("sh_abd", 35, 25, 0, 10, 0, offset=0.5),
            _both("elbow", 80, 30, 0.25, offset=0.5),
            spine_flex=_m(15, 0, 0, 6, 0), spine_twist=_m(0, 18, 0), spine_lat=_m(0, 8, 0.25),
            neck_flex=_m(5), yaw=_m(0, 25, 0),
        ),
        rate=(0.8, 1.1), views=_ANY_VIEW, jump=0.02, jump_harmonic=2, noise=6.0,
    ),
    "footwork": Motion(
        "footwork",
        _angles(
            _both("hip_flex", 100, 40, 0, offset=0.5), _both("hip_abd", 15, 20, 0.25, offset=0.5),
            _both("knee", 110, 35, 0.1, offset=0.5), _both("ankle", 10),
            pitch=_m(35, 8, 0), spine_flex=_m(30), neck_flex=_m(-15),
            l_sh_flex=_m(70, 10, 0), l_sh_abd=_m(10), l_elbow=_m(10),
            r_sh_flex=_m(40, 35, 0.5), r_sh_abd=_m(45, 20, 0), r_elbow=_m(60, 25, 0.25),
        ),
        rate=(0.7, 1.2), views=_ANY_VIEW, spin=0.5, noise=8.0,
    ),
    "windmill": Motion(
        "powermove",
        _angles(
            _both("hip_flex", 55, 25, 0, offset=0.5), _both("hip_abd", 45, 15, 0.25, offset=0.5),
            _both("knee", 10, 8, 0), _both("ankle", 30),
            _both("sh_abd", 55, 25, 0.25, offset=0.5), _both("elbow", 60, 20, 0), _both("sh_flex", 30),
            pitch=_m(-75, 15, 0), roll=_m(0, 55, 0), spine_flex=_m(20), neck_flex=_m(30),
        ),
        rate=(0.8, 1.3), views=_ANY_VIEW, spin=1.0, noise=8.0,
    ),
    "flare": Motion(
        "powermove",
        _angles(
            _both("hip_flex", 70, 40, 0, offset=0.5), _both("hip_abd", 70, 20, 0.25, offset=0.5),
            _both("knee", 5), _both("ankle", 30),
            _both("sh_flex", 70, 15, 0.25, offset=0.5), _both("elbow", 10),
            pitch=_m(35, 10, 0), spine_flex=_m(10),
        ),
        rate=(0.9, 1.3), views=_ANY_VIEW, spin=1.0, noise=8.0,
    ),
    "headspin": Motion(
        "powermove",
        _angles(
            _both("hip_abd", 40, 10, 0, offset=0.5), _both("hip_flex", 10),
            _both("knee", 5), _both("ankle", 30),
            _both("sh_abd", 60), _both("elbow", 90), _both("sh_flex", 20),
            pitch=_m(175),
        ),
        rate=(1.0, 2.0), views=_ANY_VIEW, spin=1.0, noise=6.0,
    ),
    "freeze": Motion(
        "powermove",
        _angles(
            _both("sh_flex", 150), _both("elbow", 80), _both("sh_abd", 20),
            pitch=_m(150, 5, 0), spine_flex=_m(40),
            l_hip_flex=_m(90, 10, 0), r_hip_flex=_m(30, 10, 0.5),
            l_knee=_m(100, 10, 0), r_knee=_m(20, 10, 0.5),
        ),
        rate=(0.2, 0.4), views=_ANY_VIEW, noise=4.0,
    ),
}  # fmt: skip

# Action mixes: COCO-layout videos are BRACE-like (breaking, a few everyday movements), Penn-layout videos
# have Penn Action's 15 actions, weighted roughly like its number of clips per action.
COCO_MIX: dict[str, float] = {
    "toprock": 0.30, "footwork": 0.30, "windmill": 0.12, "flare": 0.06, "headspin": 0.04, "freeze": 0.06,
    "walk": 0.04, "run": 0.03, "jumping_jacks": 0.03, "squat": 0.02,
}  # fmt: skip
PENN_MIX: dict[str, float] = {
    "baseball_pitch": 167, "baseball_swing": 173, "bench_press": 140, "bowling": 220, "clean_and_jerk": 88,
    "golf_swing": 166, "jump_rope": 82, "jumping_jacks": 112, "pullup": 199, "pushup": 211,
    "situp": 50, "situp_crossed": 50, "squat": 116, "squat_barbell": 115, "strum_guitar": 94,
    "tennis_forehand": 157, "tennis_serve": 186,
}  # fmt: skip


@dataclass
class SyntheticConfig:
    """`total_frames=1_700_000` is about the size of the chapter's data (345,120 windows)."""

    videos: int = 2000  # number of videos (ignored when total_frames is set)
    total_frames: int | None = None  # generate videos until at least this many frames
    seed: int = 0  # same seed and config -> identical tracks
    min_frames: int = 40  # video length range (frames, uniform)
    max_frames: int = 190
    fps: float = 30.0  # frame rate of every video
    coco_mix: dict[str, float] = field(default_factory=lambda: dict(COCO_MIX))  # motion -> weight
    penn_mix: dict[str, float] = field(default_factory=lambda: dict(PENN_MIX))
    closeup: float = 0.7  # probability of an upper-body framing for any video (calibrates the mean torso)
    closeup_scale: float = 1.0  # multiplies every motion's own probability of an upper-body framing
    out_of_frame_runs: float = 0.15  # probability of a run of frames with the lower body out of frame
    dropout_runs: float = 0.15  # expected runs of a missing limb per limb and video (occlusion by objects)
    dropout_frames: tuple[int, int] = (4, 30)  # length range of those runs
    self_occlusion: bool = True  # face, far ear and limbs behind the torso go missing


# ----------------------------------------------------------------------------------------------------------
# Tables


@dataclass(frozen=True)
class _Tables:
    keys: tuple[str, ...]
    coefficients: np.ndarray  # (M, 5, D): base, amp1, phase1, amp2, phase2 (radians; phases in radians)
    cycle: np.ndarray  # (M,) bool
    rate: np.ndarray  # (M, 2)
    sweep: np.ndarray  # (M,)
    spin: np.ndarray
    jump: np.ndarray
    jump_harmonic: np.ndarray
    speed: np.ndarray
    hang: np.ndarray  # (M,) bool
    closeup: np.ndarray
    noise: np.ndarray  # (M,) radians
    views: np.ndarray  # (M, V) radians, padded
    view_count: np.ndarray  # (M,)


@lru_cache(maxsize=8)
def _tables(keys: tuple[str, ...]) -> _Tables:
    motions = [MOTIONS[k] for k in keys]
    coefficients = np.zeros((len(keys), 5, NUM_DOFS))
    for m, motion in enumerate(motions):
        for name, values in motion.angles.items():
            base, amp1, phase1, amp2, phase2 = values
            coefficients[m, :, DOF_INDEX[name]] = (
                np.deg2rad(base), np.deg2rad(amp1), 2 * np.pi * phase1, np.deg2rad(amp2), 2 * np.pi * phase2
            )  # fmt: skip
    num_views = max(len(m.views) for m in motions)
    views = np.zeros((len(keys), num_views))
    for m, motion in enumerate(motions):
        views[m, : len(motion.views)] = np.deg2rad(motion.views)
    return _Tables(
        keys=keys,
        coefficients=coefficients,
        cycle=np.array([m.cycle for m in motions]),
        rate=np.array([m.rate for m in motions], dtype=np.float64),
        sweep=np.array([m.sweep for m in motions]),
        spin=np.array([m.spin for m in motions]),
        jump=np.array([m.jump for m in motions]),
        jump_harmonic=np.array([m.jump_harmonic for m in motions], dtype=np.float64),
        speed=np.array([m.speed for m in motions]),
        hang=np.array([m.hang for m in motions]),
        closeup=np.array([m.closeup for m in motions]),
        noise=np.deg2rad([m.noise for m in motions]),
        views=views,
        view_count=np.array([len(m.views) for m in motions]),
    )


def _mix(mix: dict[str, float]) -> tuple[tuple[str, ...], np.ndarray]:
    unknown = sorted(set(mix) - set(MOTIONS))
    if unknown:
        raise ValueError(f"unknown synthetic motions {unknown}; known: {sorted(MOTIONS)}")
    keys = tuple(sorted(k for k, w in mix.items() if w > 0))
    if not keys:
        raise ValueError("a synthetic action mix needs at least one motion with a positive weight")
    weights = np.array([mix[k] for k in keys], dtype=np.float64)
    return keys, np.cumsum(weights) / weights.sum()


# ----------------------------------------------------------------------------------------------------------
# Forward kinematics on rotation matrices stored as column triples (x, y, z), each (..., 3).


def _rot_x(frame, c, s):  # frame @ Rx(angle)
    x, y, z = frame
    return (x, c * y + s * z, c * z - s * y)


def _rot_y(frame, c, s):  # frame @ Ry(angle)
    x, y, z = frame
    return (c * x - s * z, y, s * x + c * z)


def _rot_z(frame, c, s):  # frame @ Rz(angle)
    x, y, z = frame
    return (c * x + s * y, c * y - s * x, z)


def _at(frame, vx, vy, vz):  # frame @ (vx, vy, vz)
    x, y, z = frame
    return x * vx + y * vy + z * vz


# Segment lengths in body heights (mean, relative spread); a person's arms and legs share a common factor.
_SEGMENTS = {
    "torso": (0.29, 0.05),  # hip centre to shoulder centre
    "shoulder": (0.13, 0.07),  # half shoulder width
    "hip": (0.09, 0.08),  # half hip width
    "neck": (0.055, 0.1),
    "head": (0.06, 0.06),  # head radius
    "upper_arm": (0.17, 0.02),
    "forearm": (0.15, 0.02),
    "hand": (0.065, 0.06),
    "thigh": (0.245, 0.02),
    "shin": (0.245, 0.02),
    "ankle": (0.04, 0.08),  # ankle height above the sole
    "foot": (0.11, 0.06),  # ankle to foot index, forward
    "heel": (0.05, 0.08),  # ankle to heel, backward
}
_THIGH = _SEGMENTS["thigh"][0]
_LIMB_FACTOR = {"upper_arm": 0, "forearm": 0, "thigh": 1, "shin": 1}  # arms, legs: shared 4 % factor


def _skeleton(cos: np.ndarray, sin: np.ndarray, lengths: dict[str, np.ndarray]) -> np.ndarray:
    """Joint angles -> 3D points `(n, T, 26, 3)` (25 joints + head centre), pelvis at the origin.

    cos, sin: `(n, T, D)` of the angles in `DOFS` order; lengths: name -> `(n, 1, 1)` in body heights.
    """

    def cs(name):
        i = DOF_INDEX[name]
        return cos[..., i, None], sin[..., i, None]  # (n, T, 1) each

    one, zero = np.ones((), cos.dtype), np.zeros((), cos.dtype)
    identity = (np.stack([one, zero, zero]), np.stack([zero, one, zero]), np.stack([zero, zero, one]))
    root = _rot_z(_rot_x(_rot_y(identity, *cs("yaw")), *cs("pitch")), *cs("roll"))
    spine = _rot_y(_rot_z(_rot_x(root, *cs("spine_flex")), *cs("spine_lat")), *cs("spine_twist"))
    neck = _rot_y(_rot_x(spine, *cs("neck_flex")), *cs("neck_twist"))

    L = lengths
    points = np.empty(cos.shape[:2] + (_NUM_POINTS, 3), dtype=cos.dtype)
    chest = _at(spine, 0.0, L["torso"], 0.0)
    neck_top = chest + _at(neck, 0.0, L["neck"], 0.0)
    r = L["head"]
    centre = neck_top + _at(neck, 0.0, 0.9 * r, 0.1 * r)
    points[..., HEAD_CENTRE, :] = centre
    points[..., JOINT_INDEX["nose"], :] = centre + _at(neck, 0.0, -0.15 * r, 0.95 * r)

    for side, sign in (("left", 1.0), ("right", -1.0)):
        p = side[0]
        points[..., JOINT_INDEX[f"{side}_ear"], :] = centre + _at(neck, sign * 0.85 * r, -0.05 * r, -0.1 * r)

        # arm: shoulder -> elbow -> wrist -> hand points
        shoulder = chest + _at(spine, sign * L["shoulder"], -0.01, -0.01)
        c_abd, s_abd = cs(f"{p}_sh_abd")
        c_fl, s_fl = cs(f"{p}_sh_flex")
        c_tw, s_tw = cs(f"{p}_sh_twist")
        upper = _rot_y(_rot_x(_rot_z(spine, c_abd, sign * s_abd), c_fl, -s_fl), c_tw, sign * s_tw)
        elbow = shoulder + _at(upper, 0.0, -L["upper_arm"], 0.0)
        c_el, s_el = cs(f"{p}_elbow")
        fore = _rot_x(upper, c_el, -s_el)
        wrist = elbow + _at(fore, 0.0, -L["forearm"], 0.0)
        c_wr, s_wr = cs(f"{p}_wrist")
        hand = _rot_x(fore, c_wr, -s_wr)
        h = L["hand"]
        points[..., JOINT_INDEX[f"{side}_shoulder"], :] = shoulder
        points[..., JOINT_INDEX[f"{side}_elbow"], :] = elbow
        points[..., JOINT_INDEX[f"{side}_wrist"], :] = wrist
        points[..., JOINT_INDEX[f"{side}_index"], :] = wrist + _at(hand, 0.0, -1.0 * h, 0.2 * h)
        points[..., JOINT_INDEX[f"{side}_pinky"], :] = wrist + _at(hand, 0.0, -0.85 * h, -0.3 * h)
        points[..., JOINT_INDEX[f"{side}_thumb"], :] = wrist + _at(
            hand, -sign * 0.15 * h, -0.55 * h, 0.45 * h
        )

        # leg: hip -> knee -> ankle -> heel, foot index
        hip = _at(root, sign * L["hip"], 0.0, 0.0)
        c_abd, s_abd = cs(f"{p}_hip_abd")
        c_fl, s_fl = cs(f"{p}_hip_flex")
        thigh = _rot_x(_rot_z(root, c_abd, sign * s_abd), c_fl, -s_fl)
        knee = hip + _at(thigh, 0.0, -L["thigh"], 0.0)
        shin = _rot_x(thigh, *cs(f"{p}_knee"))
        ankle = knee + _at(shin, 0.0, -L["shin"], 0.0)
        foot = _rot_x(shin, *cs(f"{p}_ankle"))
        points[..., JOINT_INDEX[f"{side}_hip"], :] = hip
        points[..., JOINT_INDEX[f"{side}_knee"], :] = knee
        points[..., JOINT_INDEX[f"{side}_ankle"], :] = ankle
        points[..., JOINT_INDEX[f"{side}_heel"], :] = ankle + _at(foot, 0.0, -0.6 * L["ankle"], -L["heel"])
        points[..., JOINT_INDEX[f"{side}_foot_index"], :] = ankle + _at(
            foot, 0.0, -0.9 * L["ankle"], L["foot"]
        )
    return points


def _soft_positive(x: np.ndarray, width: float) -> np.ndarray:
    """A smooth max(x, 0): keeps knees and elbows from hyperextending without kinks in the motion."""
    return width * np.logaddexp(np.zeros((), x.dtype), x / width)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _remove_flicker(hidden: np.ndarray) -> np.ndarray:
    """Drop single-frame hidden blips and fill single-frame visible gaps along time (axis 1)."""
    before = np.concatenate([hidden[:, :1], hidden[:, :-1]], axis=1)
    after = np.concatenate([hidden[:, 1:], hidden[:, -1:]], axis=1)
    hidden = hidden & (before | after)
    return hidden | (before & after)


# ----------------------------------------------------------------------------------------------------------
# One batch: draw every video's parameters, then render groups of similar length (little padding).


@dataclass
class SyntheticBatch:
    """Everything simulated for one batch of videos (for inspection and tests); arrays padded to T."""

    index: np.ndarray  # (n,) global video index
    lengths: np.ndarray  # (n,) frames of each video (frames beyond are padding)
    penn: np.ndarray  # (n,) bool: Penn-13 layout (else COCO-17)
    motion: tuple[str, ...]  # (n,) motion key (see MOTIONS)
    points3d: np.ndarray  # (n, T, 26, 3) float32 world coordinates in body heights (x, y up, z to camera)
    pixels: np.ndarray  # (n, T, 26, 2) float32 image pixel (x, y)
    visible: np.ndarray  # (n, T, 26) bool, before restricting to the source layout
    scale: np.ndarray  # (n,) pixels per body height of the orthographic camera
    segments: dict[str, np.ndarray]  # segment name -> (n,) length in body heights


_RENDER_GROUPS = 4  # videos sorted by length and rendered in this many groups


def _draw(rng: np.random.Generator, config: SyntheticConfig, penn: np.ndarray, keys, tab: _Tables) -> dict:
    """Every random choice of a batch, per video (the frames add no randomness of their own)."""
    n = len(penn)
    p = {}
    coco_keys, coco_cdf = _mix(config.coco_mix)
    penn_keys, penn_cdf = _mix(config.penn_mix)
    pick = rng.random(n)
    coco_motion = np.array([keys.index(k) for k in coco_keys])[
        np.minimum(np.searchsorted(coco_cdf, pick), len(coco_keys) - 1)
    ]
    penn_motion = np.array([keys.index(k) for k in penn_keys])[
        np.minimum(np.searchsorted(penn_cdf, pick), len(penn_keys) - 1)
    ]
    motion = p["motion"] = np.where(penn, penn_motion, coco_motion)  # (n,)

    # motion coefficients (n, 5, D), mirrored for half of the people, with personal variation
    coef = tab.coefficients[motion].copy()
    mirrored = coef[:, :, _MIRROR_PERMUTATION]
    mirrored[:, [0, 1, 3], :] *= _MIRROR_SIGN  # base and amplitudes change sign, phases stay
    coef = np.where((rng.random(n) < 0.5)[:, None, None], mirrored, coef)
    p["base"] = coef[:, 0] + rng.normal(0.0, np.deg2rad(5.0), (n, NUM_DOFS))  # (n, D)
    amplitude = rng.uniform(0.75, 1.2, (n, 1)) * rng.uniform(0.85, 1.15, (n, NUM_DOFS))
    p["amp1"], p["phase1"] = coef[:, 1] * amplitude, coef[:, 2]
    p["amp2"], p["phase2"] = coef[:, 3] * amplitude, coef[:, 4]

    # pace: cycles per second (periodic) or duration (single movement)
    p["rate"] = rng.uniform(tab.rate[motion, 0], tab.rate[motion, 1])
    p["wobble_rate"] = rng.uniform(0.1, 0.3, n)  # the pace drifts by up to 8 %
    p["wobble"] = 0.08 * rng.random(n)
    p["wobble_phase"] = rng.uniform(0, 2 * np.pi, n)
    p["phase0"] = rng.uniform(0, 2 * np.pi, n)
    p["start"] = rng.uniform(0.15, 0.85, n)  # where a single movement sits inside its clip
    p["drift_rate"] = rng.uniform(0.1, 0.6, (n, NUM_DOFS, 2))
    p["drift_phase"] = rng.uniform(0, 2 * np.pi, (n, NUM_DOFS, 2))

    # body, viewpoint and camera
    view_choice = np.floor(rng.random(n) * tab.view_count[motion]).astype(np.int64)
    p["view"] = tab.views[motion, view_choice] + rng.normal(0.0, np.deg2rad(15.0), n)
    p["spin"] = np.where(rng.random(n) < 0.5, -1.0, 1.0) * tab.spin[motion]
    common = rng.normal(1.0, 0.04, (2, n))
    p["segments"] = {
        name: mean
        * rng.normal(1.0, spread, n)
        * (common[_LIMB_FACTOR[name]] if name in _LIMB_FACTOR else 1.0)
        for name, (mean, spread) in _SEGMENTS.items()
    }
    p["travel"] = tab.speed[motion] * 0.4 * rng.random(n)  # the camera pans to follow, mostly
    p["elevation"] = np.deg2rad(rng.uniform(-5.0, 20.0, n))
    p["roll"] = np.deg2rad(rng.normal(0.0, 3.0, n))
    p["roll_rate"] = rng.uniform(0.05, 0.2, n)
    p["roll_phase"] = rng.uniform(0, 2 * np.pi, n)
    p["scale"] = np.where(penn, rng.uniform(180.0, 420.0, n), rng.uniform(200.0, 500.0, n))
    p["centre_x"] = np.where(penn, 640.0, 1920.0) * rng.uniform(0.4, 0.6, n)
    p["centre_y"] = np.where(penn, 480.0, 1080.0) * rng.uniform(0.45, 0.6, n)

    # occlusion runs: limb dropouts, and the lower body leaving the image
    slots = 2
    shape = (n, len(_CHAINS), slots)
    p["drop_active"] = rng.random(shape) < config.dropout_runs / slots
    p["drop_start"] = rng.random(shape)  # fraction of the video
    p["drop_length"] = rng.integers(config.dropout_frames[0], config.dropout_frames[1] + 1, shape)
    p["drop_from"] = rng.integers(0, 2, shape)  # from the elbow/knee (0) or from the wrist/ankle (1)
    closeup = np.minimum(tab.closeup[motion] * config.closeup_scale, 1.0)
    p["cut_whole"] = rng.random(n) < 1.0 - (1.0 - config.closeup) * (1.0 - closeup)
    p["cut_run"] = ~p["cut_whole"] & (rng.random(n) < config.out_of_frame_runs)
    p["cut_level"] = rng.uniform(0.1, 1.3, n)  # border beyond the hips, in thigh lengths
    p["cut_start"] = rng.random(n)  # fraction of the video
    p["cut_length"] = rng.uniform(10, 60, n)  # frames
    return p


def _render(p: dict, tab: _Tables, lengths: np.ndarray, fps: float, self_occlusion: bool):
    """Render videos with parameters `p` (each (n, ...)): points3d, pixels, visible, padded to max length."""
    f32 = np.float32
    num_frames = int(lengths.max())
    motion = p["motion"]
    time = (np.arange(num_frames) / fps).astype(f32)  # (T,)

    # action phase (n, T)
    cycle = tab.cycle[motion]
    rate = p["rate"][:, None]
    wobble_rate = p["wobble_rate"][:, None]
    wobble = (
        p["wobble"][:, None]
        / (2 * np.pi * wobble_rate)
        * np.cos(2 * np.pi * wobble_rate * time + p["wobble_phase"][:, None])
    )
    cyclic_phase = 2 * np.pi * rate * (time - wobble) + p["phase0"][:, None]
    start = (lengths / fps - p["rate"]) * p["start"]  # the movement sits inside the clip when it fits
    progress = _smoothstep((time - start[:, None]) / rate)
    single_phase = 2 * np.pi * tab.sweep[motion][:, None] * progress
    phase = np.where(cycle[:, None], cyclic_phase, single_phase).astype(f32)  # (n, T)
    single = (~cycle)[:, None].astype(f32)  # single movements start from their base pose

    # joint angles (n, T, D): key pose + two harmonics + slow drift
    ph = phase[..., None]
    phase1, phase2 = p["phase1"].astype(f32), p["phase2"].astype(f32)
    amp1, amp2 = p["amp1"][:, None, :].astype(f32), p["amp2"][:, None, :].astype(f32)
    angles = p["base"][:, None, :].astype(f32) + amp1 * (
        np.sin(ph + phase1[:, None]) - single[..., None] * np.sin(phase1)[:, None]
    )
    angles += amp2 * (np.sin(2 * ph + phase2[:, None]) - single[..., None] * np.sin(phase2)[:, None])
    omega = (2 * np.pi * p["drift_rate"]).astype(f32)[:, None]  # (n, 1, D, 2)
    drift_phase = p["drift_phase"].astype(f32)[:, None]
    t = time[None, :, None]
    drift = np.sin(omega[..., 0] * t + drift_phase[..., 0]) + np.sin(omega[..., 1] * t + drift_phase[..., 1])
    noise = tab.noise[motion][:, None] * np.where(np.arange(NUM_DOFS) == DOF_INDEX["yaw"], 2.0, 1.0)  # (n, D)
    angles += noise[:, None, :].astype(f32) * drift
    yaw = DOF_INDEX["yaw"]
    angles[..., yaw] += (p["view"][:, None] + p["spin"][:, None] * phase).astype(f32)
    for name in ("l_elbow", "r_elbow", "l_knee", "r_knee"):
        angles[..., DOF_INDEX[name]] = _soft_positive(angles[..., DOF_INDEX[name]], np.deg2rad(4.0))

    segments = {k: v.astype(f32)[:, None, None] for k, v in p["segments"].items()}
    points = _skeleton(np.cos(angles), np.sin(angles), segments)  # (n, T, 26, 3)

    # floor contact (or hanging hands), flight phases, travel
    height = points[..., 1]
    hang = tab.hang[motion][:, None]
    wrists_top = np.maximum(height[..., JOINT_INDEX["left_wrist"]], height[..., JOINT_INDEX["right_wrist"]])
    lift = np.where(hang, 2.2 - wrists_top, -height.min(axis=-1))  # (n, T)
    flight = tab.jump[motion][:, None] * (0.5 - 0.5 * np.cos(tab.jump_harmonic[motion][:, None] * phase))
    height += (lift + flight).astype(f32)[..., None]
    step = (p["travel"] / fps)[:, None]
    heading = angles[..., yaw]
    points[..., 0] += np.cumsum(step * np.sin(heading), axis=1).astype(f32)[..., None]
    points[..., 2] += np.cumsum(step * np.cos(heading), axis=1).astype(f32)[..., None]

    # orthographic camera: elevation, in-plane roll, scale, placement
    elevation = p["elevation"].astype(f32)[:, None, None]
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    up = y * np.cos(elevation) - z * np.sin(elevation)
    depth = y * np.sin(elevation) + z * np.cos(elevation)  # larger = nearer the camera
    roll = p["roll"][:, None] + np.deg2rad(1.0) * np.sin(
        2 * np.pi * p["roll_rate"][:, None] * time + p["roll_phase"][:, None]
    )
    roll = roll.astype(f32)[..., None]
    image_x = x * np.cos(roll) - up * np.sin(roll)  # (n, T, 26)
    image_up = x * np.sin(roll) + up * np.cos(roll)
    valid = np.arange(num_frames)[None, :] < lengths[:, None]  # (n, T)
    hips = [JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]]
    mean_x = (image_x[..., hips].sum(-1) * valid).sum(1) / (2 * lengths)
    mean_up = (image_up[..., hips].sum(-1) * valid).sum(1) / (2 * lengths)
    scale = p["scale"].astype(f32)[:, None, None]
    pixels = np.empty(points.shape[:3] + (2,), dtype=f32)
    pixels[..., 0] = scale * image_x + (p["centre_x"] - p["scale"] * mean_x).astype(f32)[:, None, None]
    pixels[..., 1] = (p["centre_y"] + p["scale"] * mean_up).astype(f32)[:, None, None] - scale * image_up

    hidden = _limb_dropouts(p, lengths, num_frames)
    if self_occlusion:
        hidden |= _self_occlusion(image_x, image_up, depth, segments["head"][..., 0])
    hidden |= _lower_body_out_of_frame(p, pixels, valid, lengths)
    return points, pixels, ~_remove_flicker(hidden)  # occlusions come in runs, not single-frame blips


def simulate_batch(config: SyntheticConfig, batch_index: int) -> SyntheticBatch:
    """Simulate the `BATCH_VIDEOS` videos of batch `batch_index` (deterministic for config.seed)."""
    rng = np.random.default_rng([config.seed, batch_index])
    n = BATCH_VIDEOS
    lengths = rng.integers(config.min_frames, config.max_frames + 1, size=n)
    index = batch_index * n + np.arange(n)
    penn = index % 2 == 1
    coco_keys, _ = _mix(config.coco_mix)
    penn_keys, _ = _mix(config.penn_mix)
    keys = tuple(sorted(set(coco_keys) | set(penn_keys)))
    tab = _tables(keys)
    params = _draw(rng, config, penn, keys, tab)

    num_frames = int(lengths.max())
    points3d = np.zeros((n, num_frames, _NUM_POINTS, 3), dtype=np.float32)
    pixels = np.zeros((n, num_frames, _NUM_POINTS, 2), dtype=np.float32)
    visible = np.zeros((n, num_frames, _NUM_POINTS), dtype=bool)
    for group in np.array_split(np.argsort(lengths, kind="stable"), _RENDER_GROUPS):
        sub = {
            k: ({s: a[group] for s, a in v.items()} if isinstance(v, dict) else v[group])
            for k, v in params.items()
        }
        g_points, g_pixels, g_visible = _render(sub, tab, lengths[group], config.fps, config.self_occlusion)
        t = g_points.shape[1]
        points3d[group, :t], pixels[group, :t], visible[group, :t] = g_points, g_pixels, g_visible
    return SyntheticBatch(
        index=index,
        lengths=lengths,
        penn=penn,
        motion=tuple(keys[m] for m in params["motion"]),
        points3d=points3d,
        pixels=pixels,
        visible=visible,
        scale=params["scale"],
        segments=params["segments"],
    )


_JOINT_NAMES = tuple(JOINT_INDEX)
_LIMB_PARTS = {"elbow", "wrist", "pinky", "index", "thumb", "knee", "ankle", "heel", "foot_index"}
_LIMB_JOINTS = np.array([i for i, name in enumerate(_JOINT_NAMES) if name.split("_", 1)[-1] in _LIMB_PARTS])
_TORSO_QUAD = [JOINT_INDEX[j] for j in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
# Limb chains from the proximal joint; a dropout hides the chain from its first or second joint onwards.
_CHAINS = tuple(
    tuple(JOINT_INDEX[f"{side}_{part}"] for part in chain)
    for chain in (("elbow", "wrist", "pinky", "index", "thumb"), ("knee", "ankle", "heel", "foot_index"))
    for side in ("left", "right")
)


def _self_occlusion(image_x, image_up, depth, head_radius) -> np.ndarray:
    """Hidden by the body itself, from the camera's view: (n, T, 26) bool.

    The nose when the face turns away; an ear when it is on the far side of the head; arm and leg points
    whose image position lies on the torso while they are behind it.
    """
    hidden = np.zeros(image_x.shape, dtype=bool)
    centre_depth = depth[..., HEAD_CENTRE]
    hidden[..., JOINT_INDEX["nose"]] = depth[..., JOINT_INDEX["nose"]] < centre_depth - 0.3 * head_radius
    for ear in ("left_ear", "right_ear"):
        hidden[..., JOINT_INDEX[ear]] = depth[..., JOINT_INDEX[ear]] < centre_depth - 0.5 * head_radius

    qx, qy = image_x[..., _TORSO_QUAD], image_up[..., _TORSO_QUAD]  # (n, T, 4)
    cx, cy = qx.mean(-1, keepdims=True), qy.mean(-1, keepdims=True)
    qx, qy = cx + 1.05 * (qx - cx), cy + 1.05 * (qy - cy)  # the torso is a little wider than its joints
    px, py = image_x[..., _LIMB_JOINTS], image_up[..., _LIMB_JOINTS]  # (n, T, L)
    positive, negative = True, True
    for k in range(4):
        ax, ay = qx[..., k, None], qy[..., k, None]
        bx, by = qx[..., (k + 1) % 4, None], qy[..., (k + 1) % 4, None]
        side = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
        positive, negative = positive & (side > 0), negative & (side < 0)
    torso_depth = depth[..., _TORSO_QUAD].mean(-1, keepdims=True)
    hidden[..., _LIMB_JOINTS] = (positive | negative) & (depth[..., _LIMB_JOINTS] < torso_depth - 0.06)
    return hidden


def _limb_dropouts(p: dict, lengths: np.ndarray, num_frames: int) -> np.ndarray:
    """Runs of frames where the end of a limb is missing (occluded by an object): (n, T, 26) bool."""
    t = np.arange(num_frames)
    start = np.floor(p["drop_start"] * lengths[:, None, None])
    in_run = (
        p["drop_active"][..., None] & (t >= start[..., None]) & (t < (start + p["drop_length"])[..., None])
    )
    hidden = np.zeros((len(lengths), num_frames, _NUM_POINTS), dtype=bool)  # in_run: (n, C, S, T)
    for c, chain in enumerate(_CHAINS):
        for position, joint in enumerate(chain):
            reaches = p["drop_from"][:, c, :, None] <= position  # (n, S, 1)
            hidden[..., joint] = (in_run[:, c] & reaches).any(1)
    return hidden


def _lower_body_out_of_frame(p: dict, pixels, valid, lengths) -> np.ndarray:
    """The image border cuts the body beyond the hips (mid-thigh to mid-shin): whole videos or runs.

    The border is a fixed line of the image across the mean hip-to-knee direction (so a lying person
    loses the legs sideways); during a run it moves in and out over a few frames (the camera tilts).
    """
    num_frames = valid.shape[1]
    left_hip, right_hip = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]
    left_knee, right_knee = JOINT_INDEX["left_knee"], JOINT_INDEX["right_knee"]
    hips = 0.5 * (pixels[..., left_hip, :] + pixels[..., right_hip, :])  # (n, T, 2)
    knees = 0.5 * (pixels[..., left_knee, :] + pixels[..., right_knee, :])
    hip = (hips * valid[..., None]).sum(1) / lengths[:, None]  # (n, 2) mean over the video
    thigh = (knees * valid[..., None]).sum(1) / lengths[:, None] - hip
    thigh_px = _THIGH * p["scale"]  # (n,) the unit of the border's distance from the hips
    thigh_length = np.sqrt((thigh**2).sum(-1))
    # away from the upper body in the image; straight down when the legs turn around (spins)
    steady = thigh_length > 0.3 * thigh_px
    down = np.where(steady[:, None], thigh / np.maximum(thigh_length, 1e-6)[:, None], np.array([0.0, 1.0]))

    t = np.arange(num_frames)[None, :]
    ramp = 6.0  # frames for the camera to tilt
    run_start = np.floor(p["cut_start"] * lengths)[:, None]
    run_end = run_start + p["cut_length"][:, None]
    run = _smoothstep((t - run_start) / ramp) * _smoothstep((run_end - t) / ramp)
    framing = np.where(p["cut_whole"][:, None], 1.0, np.where(p["cut_run"][:, None], run, 0.0))  # (n, T)
    border = (p["cut_level"][:, None] + (1.0 - framing) * 6.0) * thigh_px[:, None]  # off the body at 0
    along = (pixels[..., 0] - hip[:, None, None, 0]) * down[:, None, None, 0] + (
        pixels[..., 1] - hip[:, None, None, 1]
    ) * down[:, None, None, 1]  # (n, T, 26)
    return along > border[..., None]


# ----------------------------------------------------------------------------------------------------------
# Tracks

_COCO_JOINTS = COCO17_TO_25 >= 0  # (25,) joints a COCO-17 source has
_PENN_JOINTS = PENN13_TO_25 >= 0


def batch_tracks(batch: SyntheticBatch, fps: float, count: int | None = None) -> list[Track]:
    """The first `count` videos of a batch as `Track`s in their source layout."""
    tracks = []
    nose = JOINT_INDEX["nose"]
    for i in range(len(batch.lengths) if count is None else count):
        num_frames = int(batch.lengths[i])
        coords = batch.pixels[i, :num_frames, :NUM_JOINTS].astype(np.float64)  # (T, 25, 2)
        visible = batch.visible[i, :num_frames, :NUM_JOINTS].copy()  # (T, 25)
        if batch.penn[i]:
            coords[:, nose] = batch.pixels[i, :num_frames, HEAD_CENTRE]  # Penn's head point
            visible[:, nose] = batch.visible[i, :num_frames, HEAD_CENTRE]
            present, layout = visible & _PENN_JOINTS, "penn"
        else:
            present, layout = visible & _COCO_JOINTS, "coco"
        coords[~present] = 0.0
        tracks.append(
            Track(
                name=f"synth_{layout}_{int(batch.index[i]):05d}",
                source="synthetic",
                fps=fps,
                coords=coords,
                present=present,
                frames=np.arange(1, num_frames + 1, dtype=np.int64),
                action=MOTIONS[batch.motion[i]].action,
            )
        )
    return tracks


def _batch_lengths(config: SyntheticConfig, batch_index: int) -> np.ndarray:
    rng = np.random.default_rng([config.seed, batch_index])
    return rng.integers(config.min_frames, config.max_frames + 1, size=BATCH_VIDEOS)  # as simulate_batch


def videos_for_frames(total_frames: int, config: SyntheticConfig | None = None) -> int:
    """How many videos `generate_synthetic` emits to reach `total_frames` frames (for config's seed)."""
    config = config or SyntheticConfig()
    videos, frames, batch_index = 0, 0, 0
    while frames < total_frames:
        lengths = _batch_lengths(config, batch_index)
        cumulative = frames + np.cumsum(lengths)
        reached = int(np.searchsorted(cumulative, total_frames))  # first video reaching the total
        if reached < len(lengths):
            return videos + reached + 1
        videos, frames, batch_index = videos + len(lengths), int(cumulative[-1]), batch_index + 1
    return videos


def generate_synthetic(
    videos: int | None = None,
    seed: int | None = None,
    *,
    total_frames: int | None = None,
    config: SyntheticConfig | None = None,
) -> Iterator[Track]:
    """Yield synthetic `Track`s (see the module docstring).

    `videos`, `seed` and `total_frames` override the fields of `config` (default `SyntheticConfig()`); a
    frame total wins over a video count: videos are generated until at least that many frames
    (`videos_for_frames` tells how many videos that is). Video i is the same whatever the number asked for.
    """
    changes = {"videos": videos, "seed": seed, "total_frames": total_frames}
    config = replace(config or SyntheticConfig(), **{k: v for k, v in changes.items() if v is not None})
    if videos is not None and total_frames is None:
        config = replace(config, total_frames=None)
    if not 1 <= config.min_frames <= config.max_frames:
        raise ValueError(f"invalid video length range {config.min_frames}..{config.max_frames}")
    if config.seed < 0:
        raise ValueError("the seed must be a non-negative integer")
    count = (
        videos_for_frames(config.total_frames, config) if config.total_frames is not None else config.videos
    )

    batch_index = 0
    while count > 0:
        take = min(count, BATCH_VIDEOS)
        yield from batch_tracks(simulate_batch(config, batch_index), config.fps, take)
        count -= take
        batch_index += 1


__all__ = [
    "DOFS",
    "MOTIONS",
    "Motion",
    "SyntheticBatch",
    "SyntheticConfig",
    "batch_tracks",
    "generate_synthetic",
    "simulate_batch",
    "videos_for_frames",
]
