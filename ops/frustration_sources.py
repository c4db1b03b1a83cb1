"""Real, licensed customer-style wording for the frustration scorer, mapped to our two labels.

    python -m ops.frustration_sources [--root DIR]   prints the counts per source and label, and why
                                                      the other raw rows were dropped

The raw excerpts live in `data/frustration/raw/<folder>/`, exactly as they were fetched from the stored
public copies of their repositories: pages of 16,000 characters named `<file>.offset_<first char>.<ext>`
(`read_pages` keeps their whole lines), beside the source's licence and a `SOURCE.yml` manifest
(repository, path, commit, licence, attribution). `load_real` rebuilds both label lists from those files
alone, deterministically (file order, no randomness). `data/frustration/SOURCES.md` says the same in prose.

The label rule
--------------
VADER ground truth (`format: vader`; mean of at least 20 human ratings from -4 to +4):
    frustrated  mean <= -1.5; for the tweets, not when the text is about death, grief or illness
                (sad, not frustrated: "MJ died! A true loss."); for the reviews "it died" is a broken product
    calm        mean >= -0.3
    dropped     anything in between
GoEmotions (`format: goemotions`; the labels at least two raters agreed on):
    frustrated  anger, or annoyance, or disappointment together with disapproval
    calm        every label is one of neutral, approval, gratitude, curiosity, confusion
    dropped     anything else (joy, sadness, fear, disgust alone, mixed ...)
Every source, before the labels are kept:
    dropped     over 300 characters; URLs, `url_removed` placeholders and e-mail addresses; slurs and
                gendered insults; words naming identity groups (religion, ethnicity, sexuality, politics:
                the scorer must not learn them as cues); violence and sexual content; GoEmotions' masked
                tokens ([NAME], [RELIGION]); @-mentions and retweets; any airline or flight wording (the
                reviewers' sealed test set is drawn from airline tweets, so nothing that even looks like
                one is kept); fewer than two letters;
                and, for `calm` only, profanity (a sworn-at "calm" would teach the model the wrong thing)
    duplicates  compared lower-cased with spaces collapsed: kept once (first in file order, first source
                in `FOLDERS` order); a text found under both labels is dropped from both
    cap         at most `CAP_PER_LABEL` (1500) per label per source, the first ones in file order
HTML entities (`&amp;`) are decoded and surrounding spaces trimmed; the wording is otherwise unchanged.

Excluded on purpose, never to be added here: any airline tweet corpus (Twitter US Airline Sentiment,
Crowdflower airline data, customer-support tweets to airlines) and CLINC150, because the sealed
evaluation draws on them; and anything under a non-commercial (NC) or unclear licence.
"""
from __future__ import annotations

import csv
import html
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml

FRUSTRATED = "frustrated"
CALM = "calm"
LABELS = (FRUSTRATED, CALM)
CAP_PER_LABEL = 1500
MAX_CHARS = 300
FOLDERS = ("vader", "goemotions")        # data/frustration/raw/<folder>/SOURCE.yml, in this order
RAW_DIR = Path("data") / "frustration" / "raw"

VADER_FRUSTRATED_AT_MOST = -1.5
VADER_CALM_AT_LEAST = -0.3
GOEMOTIONS_FRUSTRATED_ANY = frozenset({"anger", "annoyance"})
GOEMOTIONS_FRUSTRATED_ALL = frozenset({"disappointment", "disapproval"})
GOEMOTIONS_CALM_ONLY = frozenset({"neutral", "approval", "gratitude", "curiosity", "confusion"})

_URL = re.compile(r"(https?://|www\.|\burl_removed\b|\[link\]|\b[\w.+-]+@[\w-]+\.[\w.]+\b|\.(com|net|org)\b)",
                  re.IGNORECASE)
_MENTION = re.compile(r"(^|\s)@\w+|\bRT\b")
_MASK = re.compile(r"\[(NAME|RELIGION)\]")
# Slurs and gendered insults: a frustrated customer needs none of them to be recognised.
_SLUR = re.compile(
    r"\b(retard\w*|fags?|faggots?|nigg\w*|kikes?|spics?|chinks?|trann(y|ies)|dykes?|bitch\w*|cunts?|whores?|"
    r"sluts?|twats?|bastard\w*|wank\w*|douche\w*|motherf\w*)\b",
    re.IGNORECASE)
# Violence and sexual content: not what a support conversation needs, under either label.
_SENSITIVE = re.compile(
    r"\b(rap(e|ed|ist)|genocide|murder\w*|hang(ing|ed)|suicid\w*|kill(s|ed|ing)?|porn\w*|masturbat\w*|orgasm\w*|"
    r"pubes|penetrat\w*|sex|sexy|sexual\w*|fetish\w*|crucif\w*|nailed to a cross|off (him|her|my|them)sel(f|ves))\b",
    re.IGNORECASE)
_AIRLINE = re.compile(
    r"\b(air ?lines?|airways|flights?|airports?|planes?|pilots?|luggage|baggage|layovers?|runways?|landed|"
    r"boarding|tsa|flight attendants?|cabin crew|jetblue|southwest|united|delta|virgin america|usairways|"
    r"american air|alaska air|spirit air|frontier)\b",
    re.IGNORECASE)
_PROFANITY = re.compile(r"\b(f+u+c+k\w*|fck\w*|fk|shit\w*|damn\w*|crap\w*|piss\w*|wtf|hell|bloody)\b",
                        re.IGNORECASE)
_GRIEF = re.compile(r"\b(died|dies|dead|death|passed away|funeral|r\.?i\.?p\.?|cancer|hospital|loss|condolences|"
                    r"killed|grandmothers?|grandad|cough\w*|allerg\w*|glands|depress\w*)\b", re.IGNORECASE)
# Identity groups (religion, ethnicity, sexuality, politics): the scorer must not learn them as cues either way.
_IDENTITY = re.compile(
    r"\b(atheis\w*|christian\w*|muslims?|islam\w*|jews?|jewish|hindus?|catholic\w*|religio\w*|gay|lesbian\w*|"
    r"queer|trans(gender)?|republican\w*|democrat\w*|liberal\w*|conservative\w*|libertarian\w*|leftists?|"
    r"communis\w*|fascis\w*|racis\w*|sexis\w*|immigra\w*|mexicans?|asians?|africans?|arabs?|koreans?|"
    r"chinese|feminis\w*|incels?)\b",
    re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")
_PAGE = re.compile(r"\.offset_(\d{7})\.")


@dataclass
class Labelled:
    """The texts one source gives each label, and how many rows its raw excerpt had."""

    frustrated: List[str] = field(default_factory=list)
    calm: List[str] = field(default_factory=list)
    rows: int = 0
    dropped: Dict[str, int] = field(default_factory=dict)      # reason -> raw rows dropped for it

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def of(self, label: str) -> List[str]:
        return self.frustrated if label == FRUSTRATED else self.calm


# --- reading the raw pages ------------------------------------------------------------------------------


def read_pages(folder: Path, pattern: str) -> str:
    """The whole lines of the pages matching `pattern`, in offset order.

    Pages that follow each other without a gap form a run and are joined; a run that does not start at
    offset 0 loses its first line (it begins mid-line) and every run loses what follows its last newline.
    Raises ValueError when no page matches or two pages overlap.
    """
    pages = sorted((int(m.group(1)), path) for path in folder.glob(pattern)
                   if (m := _PAGE.search(path.name)))
    if not pages:
        raise ValueError(f"no raw pages {pattern} in {folder}")
    runs: List[Tuple[int, str]] = []            # (first offset, joined text)
    end = -1
    for offset, path in pages:
        page = path.read_text(encoding="utf-8")
        if offset < end:
            raise ValueError(f"{path.name}: starts at {offset}, inside the page before it (ends at {end})")
        if offset == end:
            runs[-1] = (runs[-1][0], runs[-1][1] + page)
        else:
            runs.append((offset, page))
        end = offset + len(page)
    lines = []
    for first, text in runs:
        if first > 0:
            text = text[text.find("\n") + 1:]
        lines.append(text[: text.rfind("\n") + 1])
    return "".join(lines)


def _vader_rows(text: str) -> Iterator[Tuple[str, float]]:
    for line in text.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            yield html.unescape(parts[2]).strip(), float(parts[1])


def _goemotions_rows(text: str, names: Sequence[str]) -> Iterator[Tuple[str, frozenset]]:
    for row in csv.reader(io.StringIO(text), delimiter="\t"):
        if len(row) == 3:
            yield row[0].strip(), frozenset(names[int(i)] for i in row[1].split(","))


# --- the label rule --------------------------------------------------------------------------------------


def vader_label(mean: float, text: str, grief_is_not_frustration: bool = False) -> Optional[str]:
    """`frustrated`, `calm` or None (dropped) for a VADER mean rating."""
    if mean <= VADER_FRUSTRATED_AT_MOST:
        if grief_is_not_frustration and _GRIEF.search(text):
            return None
        return FRUSTRATED
    if mean >= VADER_CALM_AT_LEAST:
        return CALM
    return None


def goemotions_label(labels: frozenset) -> Optional[str]:
    """`frustrated`, `calm` or None (dropped) for a set of GoEmotions label names."""
    if labels & GOEMOTIONS_FRUSTRATED_ANY or labels >= GOEMOTIONS_FRUSTRATED_ALL:
        return FRUSTRATED
    if labels and labels <= GOEMOTIONS_CALM_ONLY:
        return CALM
    return None


def excluded(text: str, label: str) -> Optional[str]:
    """Why a text may not be kept under `label`, or None when it may."""
    if len(text) > MAX_CHARS:
        return "too long"
    if len(_LETTER.findall(text)) < 2:
        return "no words"
    for reason, pattern in (("url", _URL), ("mention", _MENTION), ("masked", _MASK), ("slur", _SLUR),
                            ("identity", _IDENTITY), ("sensitive", _SENSITIVE),
                            ("airline", _AIRLINE)):
        if pattern.search(text):
            return reason
    if label == CALM and _PROFANITY.search(text):
        return "profanity in calm"
    return None


def normalised(text: str) -> str:
    """The form duplicates are compared in."""
    return " ".join(text.lower().split())


# --- sources -----------------------------------------------------------------------------------------------


def _dataset_rows(folder: Path, manifest: Dict[str, object], dataset: Dict[str, object]
                  ) -> Tuple[int, List[Tuple[str, Optional[str]]]]:
    text = read_pages(folder, str(dataset["pages"]))
    labelled: List[Tuple[str, Optional[str]]] = []
    if dataset["format"] == "vader":
        tweets = str(dataset["name"]).endswith("tweets")
        labelled = [(t, vader_label(mean, t, grief_is_not_frustration=tweets)) for t, mean in _vader_rows(text)]
    elif dataset["format"] == "goemotions":
        names = (folder / str(manifest["label_names"])).read_text(encoding="utf-8").split()
        labelled = [(t, goemotions_label(labels)) for t, labels in _goemotions_rows(text, names)]
    else:
        raise ValueError(f"{folder}/SOURCE.yml: unknown format {dataset['format']!r}")
    return len(labelled), labelled


def load_sources(root: Path, cap: int = CAP_PER_LABEL) -> Dict[str, Labelled]:
    """Every source's labelled texts after the rule, the exclusions, de-duplication and the cap."""
    picked: Dict[str, Labelled] = {}
    seen: Dict[str, Tuple[str, str]] = {}          # normalised text -> (source, label) that kept it
    conflicts = set()
    for folder_name in FOLDERS:
        folder = root / RAW_DIR / folder_name
        manifest = yaml.safe_load((folder / "SOURCE.yml").read_text(encoding="utf-8"))
        for dataset in manifest["datasets"]:
            rows, labelled = _dataset_rows(folder, manifest, dataset)
            result = picked.setdefault(str(dataset["name"]), Labelled())
            result.rows = rows
            for text, label in labelled:
                reason = "neither label" if label is None else excluded(text, label)
                if reason:
                    result.drop(reason)
                    continue
                key = normalised(text)
                if key in seen:
                    if seen[key][1] != label:
                        conflicts.add(key)
                    result.drop("duplicate")
                    continue
                if len(result.of(label)) >= cap:
                    result.drop("over the cap")
                    continue
                seen[key] = (str(dataset["name"]), label)
                result.of(label).append(text)
    for result in picked.values():
        for label in LABELS:
            kept = [t for t in result.of(label) if normalised(t) not in conflicts]
            if len(kept) < len(result.of(label)):
                result.drop("under both labels", len(result.of(label)) - len(kept))
            setattr(result, label, kept)
    return picked


def load_real(root: Path) -> Tuple[List[str], List[str]]:
    """(frustrated, calm): the real labelled wording of every source, in source and file order."""
    sources = load_sources(root)
    return ([t for s in sources.values() for t in s.frustrated],
            [t for s in sources.values() for t in s.calm])


def main(argv: Sequence[str], out: Callable[[str], None] = print) -> int:
    here = Path(__file__).resolve().parents[1]
    root = Path(argv[argv.index("--root") + 1]).resolve() if "--root" in argv else here
    sources = load_sources(root)
    out(f"{'source':<14} {'raw rows':>8} {FRUSTRATED:>10} {CALM:>6}   dropped")
    for name, result in sources.items():
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(result.dropped.items(), key=lambda kv: -kv[1]))
        out(f"{name:<14} {result.rows:>8} {len(result.frustrated):>10} {len(result.calm):>6}   {why}")
    frustrated, calm = load_real(root)
    out(f"{'total':<14} {sum(s.rows for s in sources.values()):>8} {len(frustrated):>10} {len(calm):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
