"""ops.frustration_sources: the real, licensed frustration data built from data/frustration/raw/."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from ops import frustration_sources as fs

ROOT = Path(__file__).resolve().parents[2]
PERMISSIVE = {"MIT", "Apache-2.0", "CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CDLA-Permissive-1.0",
              "CDLA-Permissive-2.0", "CDLA-Sharing-1.0"}
URL = re.compile(r"https?://|www\.|url_removed|\b\S+@\S+\.\w+", re.IGNORECASE)


@pytest.fixture(scope="module")
def sources():
    return fs.load_sources(ROOT)


@pytest.fixture(scope="module")
def real():
    return fs.load_real(ROOT)


def test_both_labels_are_non_empty_for_every_source(sources, real):
    assert set(sources) == {"vader_amazon", "vader_tweets", "goemotions"}
    for name, result in sources.items():
        assert result.frustrated and result.calm, name
    frustrated, calm = real
    assert len(frustrated) >= 300 and len(calm) >= 300


def test_no_text_is_under_both_labels_and_none_twice(real):
    frustrated, calm = real
    f = [fs.normalised(t) for t in frustrated]
    c = [fs.normalised(t) for t in calm]
    assert not set(f) & set(c)
    assert len(f) == len(set(f)) and len(c) == len(set(c))


def test_every_text_respects_the_exclusions(real):
    for label, texts in zip(fs.LABELS, real):
        for text in texts:
            assert text == text.strip() and text
            assert len(text) <= fs.MAX_CHARS, text
            assert not URL.search(text), text
            assert "[NAME]" not in text and "&amp;" not in text, text
            assert fs.excluded(text, label) is None, text


def test_nothing_that_looks_like_an_airline_tweet_is_kept(real):
    # The sealed evaluation draws on airline tweets: none may leak into training, even by accident.
    for text in real[0] + real[1]:
        assert not re.search(r"\b(flights?|airlines?|airports?|united|delta|jetblue|southwest)\b", text, re.I), text


def test_the_cap_holds_per_source_and_label(sources):
    for result in sources.values():
        assert len(result.frustrated) <= fs.CAP_PER_LABEL and len(result.calm) <= fs.CAP_PER_LABEL
    small = fs.load_sources(ROOT, cap=5)
    for name, result in small.items():
        assert len(result.frustrated) == 5 and len(result.calm) == 5, name
        assert result.frustrated == sources[name].frustrated[:5]


def test_loading_is_deterministic_and_needs_only_the_raw_files(tmp_path, real):
    assert fs.load_real(ROOT) == real
    shutil.copytree(ROOT / fs.RAW_DIR, tmp_path / fs.RAW_DIR)
    assert fs.load_real(tmp_path) == real


def test_the_label_rule():
    assert fs.vader_label(-1.5, "worst customer service ever") == fs.FRUSTRATED
    assert fs.vader_label(-1.49, "meh") is None
    assert fs.vader_label(-0.31, "meh") is None
    assert fs.vader_label(-0.3, "the remote is okay") == fs.CALM
    assert fs.vader_label(2.5, "love it") == fs.CALM
    assert fs.vader_label(-2.5, "MJ died! A true loss.", grief_is_not_frustration=True) is None
    assert fs.vader_label(-2.5, "it died after a week") == fs.FRUSTRATED
    g = fs.goemotions_label
    assert g(frozenset({"anger"})) == fs.FRUSTRATED
    assert g(frozenset({"annoyance", "neutral"})) == fs.FRUSTRATED
    assert g(frozenset({"disappointment", "disapproval"})) == fs.FRUSTRATED
    assert g(frozenset({"disappointment"})) is None
    assert g(frozenset({"disapproval"})) is None
    assert g(frozenset({"neutral"})) == fs.CALM
    assert g(frozenset({"gratitude", "approval"})) == fs.CALM
    assert g(frozenset({"confusion"})) == fs.CALM
    assert g(frozenset({"curiosity", "joy"})) is None
    assert g(frozenset({"sadness"})) is None


def test_exclusions():
    assert fs.excluded("x" * 301, fs.CALM) == "too long"
    assert fs.excluded("see http://example.com", fs.CALM) == "url"
    assert fs.excluded("my flight was delayed again", fs.FRUSTRATED) == "airline"
    assert fs.excluded("@anonymous thanks", fs.CALM) == "mention"
    assert fs.excluded("damn, that was quick", fs.CALM) == "profanity in calm"
    assert fs.excluded("damn, still broken", fs.FRUSTRATED) is None
    assert fs.excluded(":'( :'(", fs.FRUSTRATED) == "no words"


def test_pages_are_joined_in_runs_and_cut_to_whole_lines(tmp_path):
    (tmp_path / "f.offset_0000000.txt").write_text("a\nb\nc", encoding="utf-8")
    (tmp_path / "f.offset_0000005.txt").write_text("c\nd\ne", encoding="utf-8")     # continues "c"
    (tmp_path / "f.offset_0000100.txt").write_text("xx\ny\nz", encoding="utf-8")    # starts mid-line
    assert fs.read_pages(tmp_path, "f.offset_*.txt") == "a\nb\ncc\nd\ny\n"
    (tmp_path / "f.offset_0000008.txt").write_text("overlap\n", encoding="utf-8")
    with pytest.raises(ValueError, match="inside the page"):
        fs.read_pages(tmp_path, "f.offset_*.txt")
    with pytest.raises(ValueError, match="no raw pages"):
        fs.read_pages(tmp_path, "missing.offset_*.txt")


def test_every_source_records_its_provenance_and_a_permissive_licence():
    for folder_name in fs.FOLDERS:
        folder = ROOT / fs.RAW_DIR / folder_name
        manifest = yaml.safe_load((folder / "SOURCE.yml").read_text(encoding="utf-8"))
        assert manifest["licence"] in PERMISSIVE
        assert "NC" not in manifest["licence"].upper().split("-")
        assert (folder / manifest["licence_file"]).read_text(encoding="utf-8").strip()
        assert manifest["repository"] and manifest["attribution"]
        for dataset in manifest["datasets"]:
            assert re.fullmatch(r"[0-9a-f]{40}", dataset["commit"])
            assert not re.search(r"airline|clinc", dataset["path"] + dataset["name"], re.I)
            pages = sorted(folder.glob(dataset["pages"]))
            assert pages, dataset["name"]
            for page in pages:                      # every page is one fetch, as returned: 16,000 characters
                assert len(page.read_text(encoding="utf-8")) == 16000, page.name


def test_sources_md_names_every_source_and_the_exclusions():
    text = (ROOT / "data" / "frustration" / "SOURCES.md").read_text(encoding="utf-8")
    for needle in ("cjhutto/vaderSentiment", "google-research/google-research", "MIT", "Apache-2.0",
                   "CLINC150", "airline"):
        assert needle in text


def test_main_prints_the_counts(capsys):
    assert fs.main(["--root", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "vader_amazon" in out and "goemotions" in out and "total" in out
