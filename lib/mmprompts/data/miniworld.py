"""The mini world: procedural scenes with captions, and the downstream few-shot tasks.

The offline default of the companion. A pretraining scene is either a landscape seen from the
ground (a sky over one of ten lands: field, forest, meadow, road, factory, pasture, orchard,
village, river, lake) or a plain or patterned background with one object near the centre (an
object-centric photo) or two or three objects anywhere, each with a shape, a colour, a size and
a position. A caption names a random subset of those attributes through varied templates, the
way web alt-texts name a random subset of what a photo shows. The mini CLIP (`mini-clip`, see
`mmprompts.pretrain`) is pretrained contrastively on these pairs.

Downstream tasks mirror the kinds of the paper's datasets, each next to one paper dataset of
its kind, and name their classes with words the captions used (this book assumes CLIP had read
the names of the paper's classes). They are served in the CoOp layout (a `split_mini.json` and an image
folder), so they go through exactly the code path of the real datasets:
  objects     generic objects, 20 classes (colour and shape of one centred object)   ImageNet
  badges      fine-grained: a ring around a centre in two of four similar hues; which
              one is the ring tells classes apart (petal and heart colours)           Flowers102
  textures    the background pattern behind distracting objects                        DTD
  places      a landscape from the ground with objects in front of it                 SUN397
  land        the same lands from above, a view pretraining never shows: a domain
              shift in the pixels, not in the words                                    EuroSAT
  relations   which shape is to the left of which (a relation between two objects)    UCF101
and one ablation, reported apart from the others:
  land-novel  `land`'s images under Latin class names no caption used (novel vocabulary)

Everything is a pure function of a seed: image i of (task, split, class) is drawn from its
own generator, so the files are the same whatever order or machine writes them.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..storage import named_os_error
from .coop import DatasetSplits, Layout, read_json_layout

__all__ = [
    "ABLATIONS", "COLOURS", "LANDS", "MINI_TASKS", "PAPER_ANALOGUES", "SHAPES", "TEXTURES", "Scene", "Thing", "caption", "load_mini_task",
    "render", "sample_scene", "sample_scene_group", "world_vocabulary",
]

IMAGE_SIZE = 48
WORLD_VERSION = "8"  # bump when rendering or task definitions change: cached task folders are rebuilt

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.10, 0.10), "green": (0.15, 0.70, 0.20), "blue": (0.15, 0.30, 0.90),
    "yellow": (0.95, 0.88, 0.15), "orange": (0.98, 0.55, 0.05), "purple": (0.55, 0.15, 0.75),
    "pink": (0.98, 0.50, 0.72), "cyan": (0.10, 0.85, 0.90), "white": (0.97, 0.97, 0.97),
    "black": (0.05, 0.05, 0.05), "brown": (0.50, 0.30, 0.12), "grey": (0.50, 0.50, 0.50),
}
SHAPES = ("circle", "oval", "square", "triangle", "diamond", "hexagon", "star", "cross", "ring", "heart",
          "crescent")
TEXTURES = ("plain", "striped", "checkered", "dotted", "grid", "wavy", "noisy", "gradient")
_TEXTURE_ODDS = [0.75] + [0.25 / (len(TEXTURES) - 1)] * (len(TEXTURES) - 1)  # see _texture
_PALETTE = np.array(list(COLOURS.values()))
_PLURAL = {"cross": "crosses"}
_COUNT_WORDS = {1: "one", 2: "two", 3: "three"}
_SIZE_WORDS = {"small": ("small", "tiny", "little"), "large": ("large", "big", "huge")}
_VIEW_WORDS = ("a photo of", "a picture of", "an image of", "a drawing of", "a rendering of", "there is")
# Land covers, the words of EuroSAT's ten classes that web captions of ordinary photos use (annual crop ->
# field, herbaceous vegetation -> meadow, highway -> road, industrial -> factory, permanent crop ->
# orchard, residential -> village, sea or lake -> lake). Pretraining shows them from the ground only.
LANDS = ("field", "forest", "meadow", "road", "factory", "pasture", "orchard", "village", "river", "lake")
SKIES = {"blue": (0.45, 0.66, 0.95), "grey": (0.66, 0.68, 0.72)}
# One scene in five a landscape: the rest of pretraining keeps the share of object scenes that taught
# shapes (see `_texture` and `sample_scene_group`) within the 30-minute budget.
LANDSCAPE_SHARE = 0.2


@dataclass(frozen=True)
class Thing:
    shape: str
    colour: str
    size: str  # "small" | "large"
    x: float  # centre, in pixels
    y: float
    radius: float
    angle: float  # radians


@dataclass(frozen=True)
class Scene:
    texture: str
    background: tuple[tuple[float, float, float], tuple[float, float, float]]
    things: tuple[Thing, ...]
    texture_params: tuple[float, ...]  # period, orientation, phase: drawn once, rendered exactly
    land: str | None = None  # a landscape seen from the ground (see LANDS); then `background` is its sky


# ----------------------------------------------------------------------------- sampling
def _background_pair(rng: np.random.Generator, contrast: float = 0.2) -> tuple[tuple, tuple]:
    """Two background colours whose difference (mean over channels) is between `contrast` and 0.4:
    patterns stay visible without drowning the objects' edges."""
    while True:
        a, b = rng.uniform(0.05, 0.95, size=(2, 3))
        if contrast < np.abs(a - b).mean() < 0.4:
            return tuple(a), tuple(b)


def _texture(rng: np.random.Generator) -> str:
    """Plain backgrounds 75% of the time, each pattern 25% / 7.

    Patterned backgrounds are the easiest thing to tell images apart by: with 60% of them the
    mini CLIP learned textures and colours but shapes stayed near chance (24% after 1600 steps).
    """
    return str(rng.choice(TEXTURES, p=_TEXTURE_ODDS))


def _colours_on(background) -> tuple[str, ...]:
    """The colours that stand out from both background colours (mean channel difference > 0.25;
    at least the four that stand out most). An object's outline is what its shape is learned
    from: with a threshold of 0.12 many objects were barely visible (v4 of the world)."""
    contrast = np.min([np.abs(_PALETTE - np.array(c)).mean(axis=1) for c in background], axis=0)
    order = np.argsort(-contrast, kind="stable")
    keep = max(4, int((contrast > 0.25).sum()))
    return tuple(list(COLOURS)[i] for i in sorted(order[:keep]))


def _colour_on(rng: np.random.Generator, background) -> str:
    """An object colour that stands out from both background colours."""
    return str(rng.choice(_colours_on(background)))


def _place(rng: np.random.Generator, radius: float, taken: list[Thing], size: int) -> tuple[float, float]:
    """A centre inside the image that keeps clear of the things already placed (best of 20 draws)."""
    best, best_gap = None, -np.inf
    for _ in range(20):
        x, y = rng.uniform(radius + 1, size - radius - 1, size=2)
        gap = min((np.hypot(x - t.x, y - t.y) - radius - t.radius for t in taken), default=np.inf)
        if gap > 1:
            return float(x), float(y)
        if gap > best_gap:
            best, best_gap = (float(x), float(y)), gap
    return best


def _thing(rng: np.random.Generator, shape: str, colour: str, size: str, taken: list[Thing],
           image_size: int = IMAGE_SIZE, centred: bool = False) -> Thing:
    """A thing placed clear of `taken`, or near the image centre (within 4 px) if `centred`.

    Large objects span 3-5 patches of 8 px: a 4-block ViT trained for minutes learns the
    shape of an object that covers many patches, not of one that falls inside one or two
    (measured: 59% vs 22% supervised accuracy on 10 shapes after 600 steps). Centred objects
    are the object-centric photos of web data and of Caltech101-like datasets; a shape seen
    at a stable place on the patch grid is learned faster (supervised, 500 steps: 83% centred
    within 3 px vs 68% anywhere).
    """
    scale = image_size / IMAGE_SIZE
    radius = float(rng.uniform(6.0, 9.0) if size == "small" else rng.uniform(13.0, 19.0)) * scale
    if centred:
        x, y = (image_size / 2 + rng.uniform(-4.0, 4.0, size=2) * scale).tolist()
    else:
        x, y = _place(rng, radius, taken, image_size)
    return Thing(shape, colour, size, x, y, radius, float(rng.uniform(-0.26, 0.26)))


def _texture_params(rng: np.random.Generator) -> tuple[float, ...]:
    return (float(rng.uniform(5.0, 10.0)), float(rng.choice([0.0, 0.5, 0.25, 0.75]) * np.pi),
            float(rng.uniform(0, 1)))


def sample_scene(rng: np.random.Generator, image_size: int = IMAGE_SIZE, landscape: bool | None = None) -> Scene:
    """A pretraining scene: a landscape (LANDSCAPE_SHARE of them, or as `landscape` says), else 70% one
    object near the centre, 15% two or three alike, 15% two different ones."""
    if landscape is None:
        landscape = bool(rng.uniform() < LANDSCAPE_SHARE)
    if landscape:
        return _landscape_scene(rng, str(rng.choice(LANDS)))
    background = _background_pair(rng)
    texture = _texture(rng)
    kind = rng.uniform()
    things: list[Thing] = []
    shape, colour = str(rng.choice(SHAPES)), _colour_on(rng, background)
    size = str(rng.choice(["small", "large"], p=[0.3, 0.7]))
    if kind < 0.7:
        things.append(_thing(rng, shape, colour, size, things, image_size, centred=True))
    elif kind < 0.85:
        for _ in range(int(rng.integers(2, 4))):
            things.append(_thing(rng, shape, colour, "small", things, image_size))
    else:
        things.append(_thing(rng, shape, colour, "small", things, image_size))
        other = (str(rng.choice([s for s in SHAPES if s != shape])), _colour_on(rng, background))
        while other[1] == colour:
            other = (other[0], _colour_on(rng, background))
        things.append(_thing(rng, other[0], other[1], "small", things, image_size))
    return Scene(texture, background, tuple(things), _texture_params(rng))


def _landscape_scene(rng: np.random.Generator, land: str) -> Scene:
    """A landscape seen from the ground: a sky (blue or grey) above a horizon, `land` below it."""
    sky = SKIES[str(rng.choice(list(SKIES)))]
    top = tuple(np.clip(np.array(sky) + rng.normal(0, 0.04, size=3), 0, 1))
    low = tuple(np.clip(np.array(top) + 0.12, 0, 1))  # lighter towards the horizon
    horizon, phase = float(rng.uniform(0.3, 0.5)), float(rng.uniform(0, 1))
    return Scene("plain", (top, low), (), (horizon, phase, float(rng.uniform(-0.2, 0.2))), land=land)


VARIED = ("shape", "colour", "texture", "land")


def sample_scene_group(rng: np.random.Generator, size: int = 4, image_size: int = IMAGE_SIZE,
                       varied: str | None = None) -> tuple[list[Scene], str]:
    """`size` scenes that differ only in `varied`, else in one drawn attribute (landscapes: their
    land; other scenes: shape 70%, colour 15%, texture 15%).

    Contrastive pretraining on independent scenes finds a shortcut: colour and texture alone
    tell the images of a batch apart, and shape is never learned. Groups of scenes that differ
    only in shape (or colour, or texture, or land) are hard negatives that make each attribute count.
    Returns the scenes and the varied attribute (captions must name it).
    """
    if varied is not None and varied not in VARIED:
        raise ValueError(f"varied={varied!r} is not an attribute a group can vary; choose one of {VARIED}")
    base = sample_scene(rng, image_size, landscape=None if varied is None else varied == "land")
    if base.land is not None:
        lands = rng.choice(LANDS, size=size, replace=False)
        return [dataclasses.replace(base, land=str(land)) for land in lands], "land"
    if varied is None:
        varied = str(rng.choice(VARIED[:3], p=[0.7, 0.15, 0.15]))
    pool = {"shape": SHAPES, "colour": _colours_on(base.background), "texture": TEXTURES}[varied]
    values = rng.choice(len(pool), size=size, replace=False)
    scenes = []
    for index in values:
        value = pool[int(index)]
        if varied == "texture":
            scenes.append(Scene(value, base.background, base.things, base.texture_params))
            continue
        first = base.things[0]
        changed = []
        for thing in base.things:  # alike things change together; of two different ones, the first
            alike = (thing.shape, thing.colour) == (first.shape, first.colour)
            if alike:
                thing = Thing(value if varied == "shape" else thing.shape, value if varied == "colour" else thing.colour,
                              thing.size, thing.x, thing.y, thing.radius, thing.angle)
            changed.append(thing)
        if len(changed) > 1 and (changed[1].shape, changed[1].colour) == (changed[0].shape, changed[0].colour) \
                and (base.things[1].shape, base.things[1].colour) != (first.shape, first.colour):
            return sample_scene_group(rng, size, image_size, varied)  # the change made two different things alike: redraw
        scenes.append(Scene(base.texture, base.background, tuple(changed), base.texture_params))
    return scenes, varied


# ----------------------------------------------------------------------------- captions
def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _position(thing: Thing, image_size: int) -> str | None:
    third = image_size / 3
    col = "left" if thing.x < third else "right" if thing.x > 2 * third else None
    row = "top" if thing.y < third else "bottom" if thing.y > 2 * third else None
    if col and row:
        return f"in the {row} {col} corner"
    if col:
        return f"on the {col}"
    if row:
        return f"at the {row}"
    return "in the center"


def _noun_phrase(thing: Thing, rng: np.random.Generator, count: int = 1, must: str | None = None) -> str:
    words = []
    if rng.uniform() < 0.4:
        words.append(str(rng.choice(_SIZE_WORDS[thing.size])))
    if rng.uniform() < 0.75 or must == "colour":
        words.append(thing.colour)
    named = rng.uniform() < 0.92 or not words or must == "shape"
    noun = thing.shape if named else str(rng.choice(["shape", "object"]))
    if count > 1:
        return " ".join([_COUNT_WORDS[count], *words, _PLURAL.get(noun, noun + "s")])
    words.append(noun)
    return " ".join([_article(words[0]), *words])


def caption(scene: Scene, rng: np.random.Generator, image_size: int = IMAGE_SIZE, must: str | None = None) -> str:
    """One of many captions of `scene`: a random subset of its attributes in a random template.

    `must` ("shape", "colour" or "texture") is an attribute the caption always names; a
    landscape's caption always names its land."""
    if scene.land is not None:
        return _landscape_caption(scene, rng)
    things = scene.things
    if rng.uniform() < 0.05 and must in (None, "texture"):
        return f"{_article(scene.texture)} {scene.texture} {rng.choice(['texture', 'pattern', 'background'])}."
    if len(things) > 1 and things[0].shape == things[1].shape:
        subject = _noun_phrase(things[0], rng, count=len(things), must=must)
    elif len(things) > 1:
        first, second = _noun_phrase(things[0], rng, must=must), _noun_phrase(things[1], rng)
        relation = "and"
        if rng.uniform() < 0.4:
            dx = things[0].x - things[1].x
            relation = "to the left of" if dx < 0 else "to the right of"
        subject = f"{first} {relation} {second}"
    else:
        subject = _noun_phrase(things[0], rng, must=must)
        if rng.uniform() < 0.3:
            subject = f"{subject} {_position(things[0], image_size)}"
    if rng.uniform() < 0.5 or must == "texture":
        texture = scene.texture
        if rng.uniform() < 0.5:
            subject = f"{subject} on {_article(texture)} {texture} background"
        else:
            subject = f"{_article(texture)} {texture} background with {subject}"
    view = str(rng.choice(_VIEW_WORDS))
    if view == "there is" and subject.split()[0] in ("two", "three"):
        view = "there are"
    return f"{view} {subject}." if rng.uniform() < 0.7 else f"{subject}."


def _sky_word(scene: Scene) -> str:
    return min(SKIES, key=lambda word: np.abs(np.array(SKIES[word]) - np.array(scene.background[0])).sum())


def _landscape_caption(scene: Scene, rng: np.random.Generator) -> str:
    """"a photo of a forest.", "a river under a grey sky.", "an orchard landscape.": what a land looks like is
    learned from such captions of ground-level views only (the `land` task shows it from above)."""
    subject = f"{_article(scene.land)} {scene.land}"
    odds = rng.uniform()
    if odds < 0.25:
        subject = f"{subject} under {_article(_sky_word(scene))} {_sky_word(scene)} sky"
    elif odds < 0.4:
        subject = f"{subject} landscape"
    view = str(rng.choice(_VIEW_WORDS))
    return f"{view} {subject}." if rng.uniform() < 0.7 else f"{subject}."


def world_vocabulary() -> list[str]:
    """Every word a caption can contain: the rows of the token embedding pretraining learns."""
    words = {*COLOURS, *SHAPES, *TEXTURES, *_COUNT_WORDS.values(), "a", "an", "and", "of", "the", "to",
             "with", "on", "in", "at", "left", "right", "top", "bottom", "corner", "center", "shape", "object",
             "shapes", "objects", "texture", "pattern", "background", "are", ".", *LANDS, "landscape", "under",
             "sky",
             *(_PLURAL.get(s, s + "s") for s in SHAPES)}
    for size_words in _SIZE_WORDS.values():
        words.update(size_words)
    for view in _VIEW_WORDS:
        words.update(view.split())
    return sorted(words)


# ----------------------------------------------------------------------------- rendering
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:size, :size].astype(np.float32) + 0.5
    return xx, yy


def _texture_mask(texture: str, params: tuple[float, ...], xx: np.ndarray, yy: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Weight of the second background colour per pixel, in [0, 1]."""
    period, angle, phase = params
    along = xx * np.cos(angle) + yy * np.sin(angle)
    if texture == "plain":
        return np.zeros_like(xx)
    if texture == "striped":
        return (((along / period) + phase) % 1.0 < 0.5).astype(np.float32)
    if texture == "checkered":
        return ((np.floor(xx / period + phase) + np.floor(yy / period + phase)) % 2).astype(np.float32)
    if texture == "dotted":
        u, v = (xx / period + phase) % 1.0 - 0.5, (yy / period + phase) % 1.0 - 0.5
        return (u * u + v * v < 0.09).astype(np.float32)
    if texture == "grid":
        u, v = (xx / period + phase) % 1.0, (yy / period + phase) % 1.0
        return ((u < 0.22) | (v < 0.22)).astype(np.float32)
    if texture == "wavy":
        across = -xx * np.sin(angle) + yy * np.cos(angle)
        return (np.sin(2 * np.pi * (along + 2.5 * np.sin(2 * np.pi * across / 14.0)) / period + phase) > 0).astype(np.float32)
    if texture == "noisy":
        return rng.uniform(0, 1, size=xx.shape).astype(np.float32)
    if texture == "gradient":
        span = along.max() - along.min()
        return ((along - along.min()) / span).astype(np.float32)
    raise ValueError(f"unknown texture {texture!r}; known: {TEXTURES}")


def _polygon(u: np.ndarray, v: np.ndarray, sides: int) -> np.ndarray:
    """Signed distance (unit circumradius) to a regular polygon with a vertex at the top."""
    angles = np.pi / 2 + np.pi / sides + 2 * np.pi * np.arange(sides) / sides
    apothem = np.cos(np.pi / sides)
    return np.max([u * np.cos(a) - v * np.sin(a) for a in angles], axis=0) - apothem


def _shape_distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Approximate signed distance to `shape` in units of the object radius (v points up)."""
    r = np.hypot(u, v)
    theta = np.arctan2(v, u)
    if shape == "circle":
        return r - 1
    if shape == "oval":
        return (np.hypot(u, v / 0.55) - 1) * 0.55
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - 0.8
    if shape == "triangle":
        return _polygon(u, v + 0.2, 3)
    if shape == "diamond":
        return (np.abs(u) / 0.8 + np.abs(v) - 1) * 0.62
    if shape == "hexagon":
        return _polygon(u, v, 6)
    if shape == "star":
        return r - (0.42 + 0.58 * ((np.cos(5 * (theta - np.pi / 2)) + 1) / 2) ** 2)
    if shape == "cross":
        return np.minimum(np.maximum(np.abs(u) - 0.3, np.abs(v) - 0.95), np.maximum(np.abs(u) - 0.95, np.abs(v) - 0.3))
    if shape == "ring":
        return np.abs(r - 0.72) - 0.28
    if shape == "heart":
        x, y = u * 1.25, (v + 0.15) * 1.25
        return ((x * x + y * y - 1) ** 3 - x * x * y ** 3) * 0.5
    if shape == "crescent":
        return np.maximum(r - 1, -(np.hypot(u - 0.45, v - 0.1) - 0.8))
    raise ValueError(f"unknown shape {shape!r}; known: {SHAPES}")


def _draw_thing(pixels: np.ndarray, thing: Thing, xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator) -> None:
    c, s = np.cos(thing.angle), np.sin(thing.angle)
    dx, dy = (xx - thing.x) / thing.radius, (thing.y - yy) / thing.radius
    u, v = c * dx - s * dy, s * dx + c * dy
    alpha = np.clip(0.5 - _shape_distance(thing.shape, u, v) * thing.radius, 0.0, 1.0)[..., None]
    colour = np.clip(np.array(COLOURS[thing.colour]) + rng.normal(0, 0.04, size=3), 0, 1)
    pixels *= 1 - alpha
    pixels += alpha * colour


def _disc(xx: np.ndarray, yy: np.ndarray, x: float, y: float, rx: float, ry: float | None = None) -> np.ndarray:
    """[H, W, 1] coverage of an ellipse, anti-aliased over one pixel."""
    ry = rx if ry is None else ry
    distance = (np.hypot((xx - x) / rx, (yy - y) / ry) - 1) * min(rx, ry)
    return np.clip(0.5 - distance, 0.0, 1.0)[..., None]


def _box(xx: np.ndarray, yy: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return ((xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)).astype(np.float32)[..., None]


def _paint(pixels: np.ndarray, mask: np.ndarray, colour) -> np.ndarray:
    return pixels * (1 - mask) + mask * np.asarray(colour, dtype=np.float32)


def _jitter(rng: np.random.Generator, colour) -> np.ndarray:
    """A natural colour with a little random variation (each land and tile draws its own)."""
    return np.clip(np.array(colour) + rng.normal(0, 0.04, size=3), 0, 1)


def _landscape(scene: Scene, rng: np.random.Generator, size: int) -> np.ndarray:
    """A land seen from the ground: sky above the horizon, the land's colours and forms below it,
    smaller and denser towards the horizon. The `land` task shows the same lands from above."""
    xx, yy = _grid(size)
    fraction, phase, tilt = scene.texture_params
    horizon = fraction * size + tilt * (xx - size / 2)
    jitter = lambda colour: _jitter(rng, colour)  # noqa: E731
    top, low = (np.array(c, dtype=np.float32) for c in scene.background)
    up = np.clip(yy / np.maximum(horizon, 1), 0, 1)[..., None]
    pixels = top * (1 - up) + low * up
    below = (yy >= horizon)[..., None]
    depth = np.clip((yy - horizon) / (size - horizon.mean()), 0, 1)  # 0 at the horizon, 1 at the bottom
    mottle = _blobs(rng, xx, yy, scale=rng.uniform(6, 12))[..., None]
    grass, soil = jitter((0.36, 0.55, 0.22)), jitter((0.55, 0.42, 0.26))
    h = float(horizon.mean())
    land, upright = scene.land, []
    if land == "field":
        rows = (np.log1p(6 * depth) * rng.uniform(5, 8) + phase) % 1.0 < 0.5
        ground = np.where(rows[..., None], jitter((0.72, 0.68, 0.3)), soil)
    elif land == "forest":
        ground = jitter((0.14, 0.33, 0.13)) * (0.7 + 0.5 * mottle)
        crowns = np.zeros_like(mottle)
        for x in np.arange(-2, size + 2, rng.uniform(3, 5)):
            r = rng.uniform(2.5, 4.5)
            crowns = np.maximum(crowns, _disc(xx, yy, x + rng.uniform(-1, 1), h - r * rng.uniform(0.3, 1.2), r))
        upright.append((crowns, jitter((0.12, 0.3, 0.12))))
    elif land == "meadow":
        ground = grass * (0.85 + 0.3 * mottle)
        for _ in range(int(rng.integers(25, 45))):
            y = h + (size - h) * rng.uniform(0.05, 1) ** 0.7
            ground = _paint(ground, _disc(xx, yy, rng.uniform(0, size), y, 0.5 + 0.8 * (y - h) / (size - h)),
                            jitter(COLOURS[str(rng.choice(["yellow", "white", "purple", "pink"]))]))
    elif land == "road":
        ground = grass * (0.9 + 0.2 * mottle)
        centre = size / 2 + rng.uniform(-6, 6) + (1 - depth) * rng.uniform(-6, 6)
        half = 0.5 + depth * rng.uniform(8, 12)
        ground = _paint(ground, (np.abs(xx - centre) < half)[..., None].astype(np.float32), jitter((0.4, 0.4, 0.42)))
        dashes = (np.abs(xx - centre) < 0.3 + 0.5 * depth) & ((np.log1p(8 * depth) * 4 + phase) % 1.0 < 0.5)
        ground = _paint(ground, dashes[..., None].astype(np.float32), (0.95, 0.95, 0.9))
    elif land == "factory":
        ground = jitter((0.48, 0.48, 0.46)) * (0.9 + 0.2 * mottle)
        for _ in range(int(rng.integers(2, 4))):
            x0, w, height = rng.uniform(0, size - 8), rng.uniform(8, 16), rng.uniform(6, 12)
            upright.append((_box(xx, yy, x0, h - height, x0 + w, h + 2), jitter((0.62, 0.62, 0.62))))
            chimney = x0 + rng.uniform(1, w - 2)
            upright.append((_box(xx, yy, chimney, h - height - rng.uniform(5, 9), chimney + 1.5, h),
                            jitter((0.35, 0.33, 0.33))))
    elif land == "pasture":
        ground = jitter((0.5, 0.68, 0.32)) * (0.95 + 0.1 * mottle)
        for _ in range(int(rng.integers(2, 6))):
            y = h + (size - h) * rng.uniform(0.2, 0.9)
            scale = 0.6 + 1.5 * (y - h) / (size - h)
            ground = _paint(ground, _disc(xx, yy, rng.uniform(4, size - 4), y, 1.6 * scale, 0.9 * scale),
                            jitter(COLOURS[str(rng.choice(["white", "brown", "black"]))]))
    elif land == "orchard":
        ground = soil * (0.9 + 0.2 * mottle)
        for row in np.linspace(0.1, 1.0, int(rng.integers(4, 6))):
            y, r = h + (size - h) * row, 0.8 + 2.6 * row
            for x in np.arange(rng.uniform(0, 4), size, 3 * r + 2):
                ground = _paint(ground, _disc(xx, yy, x, y - r, r), jitter((0.2, 0.45, 0.15)))
    elif land == "village":
        ground = grass * (0.9 + 0.2 * mottle)
        for x0 in np.sort(rng.uniform(0, size - 7, size=int(rng.integers(3, 6)))):
            w = rng.uniform(5, 8)
            base = h + rng.uniform(0, 6)
            wall = _box(xx, yy, x0, base - w * 0.7, x0 + w, base)
            roof = ((yy < base - w * 0.7) & (yy > base - w * 0.7 - w * 0.5 + np.abs(xx - x0 - w / 2) * 1.0))
            upright += [(wall, jitter((0.9, 0.85, 0.75))), (roof[..., None].astype(np.float32), jitter((0.7, 0.25, 0.2)))]
    elif land == "river":
        ground = grass * (0.85 + 0.3 * mottle)
        centre = size / 2 + rng.uniform(-5, 5) + 6 * np.sin(2 * np.pi * (depth * rng.uniform(0.7, 1.5) + phase))
        ground = _paint(ground, (np.abs(xx - centre) < 0.5 + depth * rng.uniform(5, 9))[..., None].astype(np.float32),
                        jitter((0.18, 0.3, 0.5)))
    elif land == "lake":
        shore = size - rng.uniform(4, 10)
        ground = np.where((yy > shore)[..., None], grass, jitter((0.2, 0.34, 0.58)) * (0.9 + 0.2 * mottle))
    else:
        raise ValueError(f"unknown land {land!r}; known: {LANDS}")
    pixels = np.where(below, ground, pixels)
    for mask, colour in upright:  # trees, buildings: drawn over the horizon
        pixels = _paint(pixels, mask, colour)
    return pixels


def render(scene: Scene, rng: np.random.Generator, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """The scene as an [H, W, 3] uint8 image (anti-aliased edges, mild sensor noise)."""
    xx, yy = _grid(image_size)
    if scene.land is not None:
        pixels = _landscape(scene, rng, image_size)
    else:
        mix = _texture_mask(scene.texture, scene.texture_params, xx, yy, rng)[..., None]
        first, second = (np.array(c, dtype=np.float32) for c in scene.background)
        pixels = first * (1 - mix) + second * mix
    for thing in scene.things:
        _draw_thing(pixels, thing, xx, yy, rng)
    pixels += rng.normal(0, 0.02, size=pixels.shape)
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------- downstream tasks
@dataclass(frozen=True)
class MiniTask:
    classnames: tuple[str, ...]
    template: str
    draw: Callable[[int, np.random.Generator], np.ndarray]  # (label, rng) -> image
    kind: str  # which of the paper's dataset kinds it mirrors
    analogue: str  # the paper's dataset of that kind whose numbers the book shows next to it
    ablation: bool = False  # a variant of another task, reported apart from the paper-analogue tasks
    images_of: str | None = None  # the task whose images it shows (an ablation that only renames classes)


_OBJECT_COLOURS = ("red", "green", "blue", "yellow")
_OBJECT_SHAPES = ("circle", "square", "triangle", "star", "heart")
_OBJECTS = tuple((colour, shape) for colour in _OBJECT_COLOURS for shape in _OBJECT_SHAPES)


def _objects_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """One large object near the centre, in its class's colour and shape, on a background it stands out from."""
    colour, shape = _OBJECTS[label]
    background = _background_pair(rng)
    while colour not in _colours_on(background):
        background = _background_pair(rng)
    main = _thing(rng, shape, colour, "large", [], centred=True)
    return render(Scene(_texture(rng), background, (main,), _texture_params(rng)), rng)


_RELATION_SHAPES = ("circle", "square", "triangle")
_RELATIONS = tuple((left, right) for left in _RELATION_SHAPES for right in _RELATION_SHAPES if left != right)


def _relations_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """Two objects side by side; the class is which shape is on the left of which (of any colours)."""
    left_shape, right_shape = _RELATIONS[label]
    background = _background_pair(rng)
    colours = rng.choice(_colours_on(background), size=2, replace=False)
    radius = rng.uniform(7.0, 9.5, size=2)
    gap = rng.uniform(2.0, 6.0)
    x_left = rng.uniform(radius[0] + 1, IMAGE_SIZE - 2 * radius[1] - radius[0] - gap - 1)
    x_right = x_left + radius[0] + gap + radius[1]
    things = tuple(Thing(shape, str(colour), "small", float(x), float(rng.uniform(r + 1, IMAGE_SIZE - r - 1)), float(r),
                         float(rng.uniform(-0.26, 0.26)))
                   for shape, colour, x, r in zip((left_shape, right_shape), colours, (x_left, x_right), radius))
    return render(Scene(_texture(rng), background, things, _texture_params(rng)), rng)


def _places_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """A landscape seen from the ground (as in pretraining) with one or two objects in front of it."""
    scene = _landscape_scene(rng, LANDS[label])
    things: list[Thing] = []
    for _ in range(int(rng.integers(1, 3))):
        things.append(_thing(rng, str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS))), "small", things))
    return render(dataclasses.replace(scene, things=tuple(things)), rng)


_BADGE_COLOURS = ("red", "orange", "pink", "purple")
_BADGES = tuple((ring, centre) for ring in _BADGE_COLOURS for centre in _BADGE_COLOURS if ring != centre)
_BADGE_CENTRE = 0.42  # centre radius / ring radius: the centre fills the ring's hole


def _badges_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """A ring of one colour around a disc of another, like a flower's petals around its heart.

    Two classes share each pair of colours and differ only in which is where: the part-attribute
    binding that separates many fine-grained species. Contrastive pretraining binds words to
    parts weakly (CLIP's "bag of words" behaviour, Yuksekgonul et al., ICLR 2023): the mini
    CLIP tells which colours a badge has far better than which colour is the ring.
    """
    ring_colour, centre_colour = _BADGES[label]
    ring = _thing(rng, "ring", ring_colour, "large", [], centred=True)
    centre = Thing("circle", centre_colour, "small", ring.x, ring.y, ring.radius * _BADGE_CENTRE, ring.angle)
    scene = Scene("plain", _background_pair(rng), (ring, centre), _texture_params(rng))
    return render(scene, rng)


def _textures_image(label: int, rng: np.random.Generator) -> np.ndarray:
    things: list[Thing] = []
    background = _background_pair(rng)
    for _ in range(int(rng.integers(1, 3))):
        things.append(_thing(rng, str(rng.choice(SHAPES)), _colour_on(rng, background), "small", things))
    scene = Scene(TEXTURES[label], background, tuple(things), _texture_params(rng))
    return render(scene, rng)


# The `land-novel` ablation's names: the Latin words for LANDS, which no pretraining caption uses
# (tests check that their tokens are outside the world's vocabulary).
_NOVEL_LANDS = ("ager", "silva", "pratum", "via", "officina", "pascuum", "pomarium", "vicus", "flumen", "lacus")


def _blobs(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, scale: float) -> np.ndarray:
    """Smooth random field in [0, 1]: a sum of random plane waves."""
    field = np.zeros_like(xx)
    for _ in range(6):
        k = rng.normal(0, 1, size=2) * 2 * np.pi / scale
        field += np.cos(k[0] * xx + k[1] * yy + rng.uniform(0, 2 * np.pi))
    return (field - field.min()) / (np.ptp(field) + 1e-6)


def _land_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """A top-down land-cover tile: low-contrast natural colours and structures of its class, a view
    pretraining never shows (it shows the same lands from the ground, see `_landscape`)."""
    xx, yy = _grid(IMAGE_SIZE)
    jitter = lambda colour: _jitter(rng, colour)  # noqa: E731
    grass, soil, water, concrete = jitter((0.36, 0.48, 0.25)), jitter((0.55, 0.45, 0.32)), jitter((0.18, 0.28, 0.42)), jitter((0.6, 0.6, 0.58))
    name = LANDS[label]
    mottle = _blobs(rng, xx, yy, scale=rng.uniform(6, 12))[..., None]
    angle = rng.uniform(0, np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    across = -xx * np.sin(angle) + yy * np.cos(angle)
    if name == "field":
        strips = ((along / rng.uniform(4, 8)) % 1.0 < 0.5)[..., None]
        pixels = np.where(strips, grass * 1.1, soil)
    elif name == "forest":
        pixels = grass * (0.45 + 0.35 * mottle)
    elif name == "meadow":
        pixels = grass * (0.8 + 0.4 * mottle) + soil * 0.15 * (1 - mottle)
    elif name == "road":
        pixels = grass * (0.9 + 0.2 * mottle)
        road = (np.abs(across - across.mean() - rng.uniform(-8, 8)) < rng.uniform(1.5, 3.0))[..., None]
        pixels = np.where(road, concrete * 0.8, pixels)
    elif name == "factory":
        pixels = concrete * (0.8 + 0.2 * mottle)
        for _ in range(int(rng.integers(2, 5))):
            x0, y0 = rng.uniform(0, IMAGE_SIZE - 12, size=2)
            w, h = rng.uniform(8, 20, size=2)
            box = ((xx > x0) & (xx < x0 + w) & (yy > y0) & (yy < y0 + h))[..., None]
            pixels = np.where(box, jitter((0.85, 0.85, 0.85)), pixels)
    elif name == "pasture":
        pixels = jitter((0.5, 0.62, 0.32)) * (0.95 + 0.1 * mottle)
    elif name == "orchard":
        period = rng.uniform(4, 6)
        u, v = (along / period) % 1.0 - 0.5, (across / period) % 1.0 - 0.5
        trees = (u * u + v * v < 0.08)[..., None]
        pixels = np.where(trees, grass * 0.6, soil * 1.05)
    elif name == "village":
        pixels = grass * (0.9 + 0.2 * mottle)
        for _ in range(int(rng.integers(10, 20))):
            x0, y0 = rng.uniform(0, IMAGE_SIZE - 4, size=2)
            box = ((xx > x0) & (xx < x0 + 3.5) & (yy > y0) & (yy < y0 + 3.5))[..., None]
            pixels = np.where(box, jitter((0.7, 0.35, 0.3)), pixels)
    elif name == "river":
        pixels = grass * (0.85 + 0.3 * mottle)
        bend = across - across.mean() - 5 * np.sin(2 * np.pi * along / rng.uniform(30, 60))
        pixels = np.where((np.abs(bend) < rng.uniform(2.5, 5))[..., None], water, pixels)
    else:  # lake
        pixels = water * (0.85 + 0.3 * mottle)
    pixels = pixels + rng.normal(0, 0.025, size=pixels.shape)
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)


MINI_TASKS: dict[str, MiniTask] = {
    "objects": MiniTask(tuple(f"{colour} {shape}" for colour, shape in _OBJECTS), "a photo of a {}.", _objects_image,
                        "generic objects, many classes", "imagenet"),
    "badges": MiniTask(tuple(f"{ring} ring and {centre} circle" for ring, centre in _BADGES), "a photo of a {}.",
                       _badges_image, "fine-grained (which colour is the ring)", "oxford_flowers"),
    "textures": MiniTask(TEXTURES, "{} texture.", _textures_image, "textures", "dtd"),
    "places": MiniTask(LANDS, "a photo of a {}.", _places_image, "scenes of several objects", "sun397"),
    "land": MiniTask(LANDS, "a photo of a {}.", _land_image, "land cover from above (domain shift)", "eurosat"),
    "relations": MiniTask(tuple(f"{left} to the left of a {right}" for left, right in _RELATIONS), "a photo of a {}.",
                          _relations_image, "a relation between two objects (action-like)", "ucf101"),
    "land-novel": MiniTask(_NOVEL_LANDS, "a photo of a {}.", _land_image,
                           "ablation: `land` with class names never read", "eurosat", ablation=True, images_of="land"),
}
PAPER_ANALOGUES = tuple(name for name, task in MINI_TASKS.items() if not task.ablation)  # the mini profile's tasks
ABLATIONS = tuple(name for name, task in MINI_TASKS.items() if task.ablation)
SPLIT_SIZES = {"train": 48, "val": 16, "test": 50}  # images per class; few-shot train/val are sampled from these
_SPLIT_FILE = "split_mini.json"


def task_image(task: str, split: str, label: int, index: int, seed: int = 0) -> np.ndarray:
    """Image `index` of class `label` in `split` of `task`: a pure function of its arguments."""
    source = MINI_TASKS[task].images_of or task
    ids = (seed, list(MINI_TASKS).index(source), list(SPLIT_SIZES).index(split), label, index)
    return MINI_TASKS[task].draw(label, np.random.default_rng(ids))


def load_mini_task(name: str, root: str | os.PathLike) -> DatasetSplits:
    """The mini task `name` in the CoOp layout under `<root>/<name>`, written on first use."""
    if name not in MINI_TASKS:
        raise ValueError(f"unknown mini-world task {name!r}; known: {sorted(MINI_TASKS)}")
    task = MINI_TASKS[name]
    folder = Path(root) / name
    stamp = folder / "world_version.txt"
    if not (stamp.is_file() and stamp.read_text() == WORLD_VERSION):
        _write_task(name, task, folder)
        _written(stamp, lambda: stamp.write_text(WORLD_VERSION))
    spec = Layout(name, task.template, "images", _SPLIT_FILE)
    return dataclasses.replace(read_json_layout(name, spec, folder), revision=WORLD_VERSION)


def _write_task(name: str, task: MiniTask, folder: Path) -> None:
    splits: dict[str, list] = {split: [] for split in SPLIT_SIZES}
    for label, cname in enumerate(task.classnames):
        class_dir = folder / "images" / cname.replace(" ", "_")
        _written(class_dir, lambda: class_dir.mkdir(parents=True, exist_ok=True))
        for split, count in SPLIT_SIZES.items():
            for i in range(count):
                rel = f"{class_dir.name}/{split}_{i:03d}.png"
                image = folder / "images" / rel
                _written(image, lambda: Image.fromarray(task_image(name, split, label, i)).save(image))
                splits[split].append([rel, label, cname])
    _written(folder / _SPLIT_FILE, lambda: (folder / _SPLIT_FILE).write_text(json.dumps(splits)))


def _written(path: Path, write: Callable[[], object]) -> None:
    """`write()`, its OSError naming `path` (a full disk says only "[Errno 28]") and, for a full disk, the fix."""
    try:
        write()
    except OSError as err:
        raise named_os_error(err, path) from err
