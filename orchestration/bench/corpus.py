"""A synthetic inbox for benchmarks: listing files in all three layouts, deterministic per seed.

Like the real pages: files of about 200 listings; about 15% of listings list
a paper seen before, a third of those under a title variant (case, hyphens,
spacing, a final period: the same title key); abstracts of 150-200 words in
the register of the samples; author counts or organizations, a `·` line and
dates with upvotes in the third layout. Titles are unique per paper (each
carries a generated method name), so the expected paper count is known.

Pure: `generate_files` yields file contents; writing them is the caller's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

LISTINGS_PER_FILE = 200
REPEAT_SHARE = 0.15
VARIANT_SHARE = 1 / 3  # of the repeats
LAYOUTS = ("compact", "blocks", "blocks_with_metadata")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

COMPACT_HEADER = [
    "Get trending papers in your email inbox once a day!",
    "Get trending papers in your email inbox!",
]
BLOCKS_HEADER = [
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
]

_SYLLABLES = (
    "al",
    "be",
    "co",
    "da",
    "el",
    "fi",
    "ga",
    "hu",
    "io",
    "ka",
    "lu",
    "mo",
    "ne",
    "or",
    "pa",
    "qu",
    "ri",
    "so",
    "ta",
    "ur",
    "ve",
    "xa",
    "yo",
    "ze",
)
_SUFFIXES = ("Net", "Former", "LM", "Diff", "GPT", "Bench", "Flow", "Mamba", "RL", "Seg")

_TOPICS = (
    "large language models",
    "state space models",
    "diffusion models",
    "graph neural networks",
    "vision transformers",
    "reinforcement learning",
    "in-context learning",
    "speech recognition",
    "neural radiance fields",
    "mixture of experts",
    "knowledge distillation",
    "contrastive learning",
    "retrieval-augmented generation",
    "code generation",
    "instruction tuning",
    "image segmentation",
    "time series forecasting",
    "protein structure prediction",
    "multimodal reasoning",
    "preference optimization",
    "sparse attention",
    "model quantization",
    "video generation",
    "chain-of-thought prompting",
    "federated learning",
    "text-to-image synthesis",
    "robot manipulation",
    "automatic speech translation",
    "semantic parsing",
    "point cloud registration",
)
_ADJECTIVES = (
    "efficient",
    "scalable",
    "robust",
    "unified",
    "lightweight",
    "adaptive",
    "hierarchical",
    "self-supervised",
    "training-free",
    "data-efficient",
    "multilingual",
    "long-context",
)
_THINGS = (
    "framework",
    "benchmark",
    "architecture",
    "objective",
    "dataset",
    "decoding strategy",
    "training recipe",
    "evaluation protocol",
    "attention mechanism",
    "memory module",
)
_TITLE_TEMPLATES = (
    "{Name}: {Adj} {Topic} with {Thing}s",
    "{Name}: Towards {Adj} {Topic}",
    "{Name}: Scaling {Topic} to Long Contexts",
    "Rethinking {Topic} with {Name}",
    "{Name}: A {Adj} {Thing} for {Topic}",
    "On the Limits of {Topic}: Evidence from {Name}",
)
_SENTENCES = (
    "Recent advances in {topic} have enabled remarkable progress across a wide range of applications.",
    "However, existing approaches to {topic} often suffer from high computational cost and limited {adj} generalization.",
    "In this work, we introduce {name}, a {adj} {thing} that combines {topic} with {topic2}.",
    "Our key insight is that {topic2} can be reformulated as a sequence of simpler subproblems.",
    "We evaluate {name} on several benchmarks, including standard {topic} tasks and challenging out-of-distribution settings.",
    "Extensive experiments show that {name} outperforms strong baselines by a large margin while using fewer parameters.",
    "We further analyze the {thing} and find that its gains stem from better use of {topic2}.",
    "Ablation studies confirm the contribution of each component of the proposed {thing}.",
    "Code, models and the {thing} are publicly available to foster future research on {topic}.",
    "Theoretical analysis reveals a connection between {topic} and classical results on {topic2}.",
    "Unlike prior work, {name} requires no additional supervision and scales to billions of tokens.",
    "Human evaluation indicates that outputs of {name} are preferred in most cases.",
)


@dataclass(frozen=True)
class Paper:
    title: str
    abstract: str


@dataclass(frozen=True)
class SyntheticFile:
    name: str
    layout: str
    text: str
    listings: int
    new_papers: int


def method_name(number: int) -> str:
    """A unique, pronounceable method name for paper `number` (Kaluze-Net style)."""
    letters = []
    n = number
    while True:
        n, digit = divmod(n, len(_SYLLABLES))
        letters.append(_SYLLABLES[digit])
        if n == 0:
            break
        n -= 1
    return "".join(letters).capitalize() + _SUFFIXES[number % len(_SUFFIXES)]


def _paper(number: int, rng: random.Random) -> Paper:
    name = method_name(number)
    topic, topic2 = rng.sample(_TOPICS, 2)
    adj, thing = rng.choice(_ADJECTIVES), rng.choice(_THINGS)
    title = rng.choice(_TITLE_TEMPLATES).format(
        Name=name, Adj=adj.title(), Topic=topic.title(), Thing=thing.title()
    )
    sentences = rng.sample(_SENTENCES, rng.randint(7, 9))
    abstract = " ".join(
        s.format(name=name, topic=topic, topic2=topic2, adj=adj, thing=thing) for s in sentences
    )
    return Paper(title, abstract)


def title_variant(title: str, rng: random.Random) -> str:
    """Another spelling of `title` with the same title key (dbt macro title_key)."""
    choice = rng.randrange(4)
    if choice == 0:
        return title.lower()
    if choice == 1:
        return title.replace("-", " ") if "-" in title else title.upper()
    if choice == 2:
        return title.replace(": ", " : ").replace(" ", "  ", 1)
    return title + "."


def _listing_date(rng: random.Random) -> str:
    month, day = rng.choice(MONTHS), rng.randint(1, 28)
    upvotes = f" {rng.randint(1, 300)}" if rng.random() < 0.6 else ""
    if rng.random() < 0.5:
        return f"{month} {day}, {rng.randint(2019, 2025)}{upvotes}"
    return f"{month} {day}{upvotes}"


def render(layout: str, listings: list[Paper], rng: random.Random) -> str:
    """The text of one listing page in `layout`."""
    if layout == "compact":
        lines = list(COMPACT_HEADER)
        for i, paper in enumerate(listings):
            lines += [("Subscribe" if i == 0 else "") + paper.title, paper.abstract]
        return "\n".join(lines) + "\n"
    blocks = [*BLOCKS_HEADER, f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"]
    for paper in listings:
        blocks += [paper.title, paper.abstract]
        if layout == "blocks_with_metadata":
            if rng.random() < 0.9:
                blocks.append(f"  • {rng.randint(1, 40)} authors\n·\n{_listing_date(rng)}")
            else:
                blocks.append(
                    f"{rng.choice(_SYLLABLES)}-ai {rng.choice(_SYLLABLES).upper()}Lab\n·\n{_listing_date(rng)}"
                )
    return "\n\n".join(blocks) + "\n"


def generate_files(
    total_listings: int, seed: int = 0, first_paper: int = 0
) -> Iterator[SyntheticFile]:
    """Files holding `total_listings` listings in all, about 200 each, layouts in turn.

    Papers are numbered from `first_paper`: corpora with numbers far apart share no paper.
    """
    rng = random.Random(seed)
    papers: list[Paper] = []
    made = 0
    file_number = 0
    while made < total_listings:
        size = min(
            total_listings - made, rng.randint(LISTINGS_PER_FILE - 20, LISTINGS_PER_FILE + 20)
        )
        listings: list[Paper] = []
        new = 0
        for _ in range(size):
            if papers and rng.random() < REPEAT_SHARE:
                seen = rng.choice(papers)
                if rng.random() < VARIANT_SHARE:
                    seen = Paper(title_variant(seen.title, rng), seen.abstract)
                listings.append(seen)
            else:
                paper = _paper(first_paper + len(papers), rng)
                papers.append(paper)
                listings.append(paper)
                new += 1
        layout = LAYOUTS[file_number % len(LAYOUTS)]
        yield SyntheticFile(
            name=f"{file_number:06d}_{layout}.txt",
            layout=layout,
            text=render(layout, listings, rng),
            listings=size,
            new_papers=new,
        )
        made += size
        file_number += 1


def daily_page(seen: list[Paper], listings: int, seed: int, first_paper: int) -> str:
    """One page in the metadata layout of `listings` listings: the papers `seen` listed again,
    each with a date of its own (which may move its month, as a real relisting that now shows
    a publication date does), among new papers numbered from `first_paper`."""
    rng = random.Random(seed)
    papers = [_paper(first_paper + i, rng) for i in range(listings - len(seen))] + list(seen)
    rng.shuffle(papers)
    return render("blocks_with_metadata", papers, rng)


def big_file_chunks(target_bytes: int, seed: int = 1) -> Iterator[str]:
    """One blocks-layout page of about `target_bytes`, in pieces: for the memory benchmark."""
    rng = random.Random(seed)
    yield "\n\n".join([*BLOCKS_HEADER, "Sep 3"]) + "\n\n"
    written, number = 0, 10_000_000  # names apart from generate_files' papers
    while written < target_bytes:
        paper = _paper(number, rng)
        chunk = f"{paper.title}\n\n{paper.abstract}\n\n"
        written += len(chunk.encode())
        number += 1
        yield chunk
