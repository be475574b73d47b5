"""Loading corpora: the bundled articles, JSON Lines, and every kind of bad input."""
from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.corpus import load_corpus, parse_article_file
from retrieval.dates import PartialDate
from retrieval.errors import CorpusError

from tests.conftest import ROOT

SHARED_SEEDS = ROOT.parent / "shared" / "seed-articles"


def test_bundled_corpus_has_the_five_seed_articles_with_metadata():
    corpus = load_corpus(ROOT / "corpus")
    by_id = {a.id: a for a in corpus.articles}
    assert len(corpus) == 5
    hindu = by_id["000_9639a6f131cd2677"]
    assert (hindu.source, hindu.date, hindu.title) == (
        "The Hindu", PartialDate(2013, 1, 23), "'Reset' has run its course: Lavrov")
    assert by_id["003_261917a455a92de6"].date == PartialDate(2013, 1)  # month only
    assert by_id["001_621f8abafa2ba000"].date == PartialDate(2014, 9, 29)  # not the saved-page stamp
    assert by_id["004_c4062019a5f7e961"].author == "Robert Bridge"
    assert all(a.url and a.url.startswith("http") for a in corpus.articles)


@pytest.mark.skipif(not SHARED_SEEDS.is_dir(), reason="../shared/seed-articles is not here")
def test_stored_text_is_the_collected_text_byte_for_byte():
    corpus = load_corpus(ROOT / "corpus")
    for article in corpus.articles:
        original = (SHARED_SEEDS / f"{article.id}.txt").read_bytes()
        assert article.text.encode("utf-8") == original


def test_jsonl_corpus_with_missing_date_and_url(write_jsonl):
    path = write_jsonl([
        {"id": "a", "title": "T", "source": "S", "text": "Some text here."},
        {"id": "b", "title": "T2", "source": "S2", "date": "2020-05", "url": "http://x",
         "text": "More text."},
    ])
    corpus = load_corpus(path)
    assert [a.id for a in corpus.articles] == ["a", "b"]
    assert corpus.articles[0].date is None and corpus.articles[0].url is None
    assert corpus.articles[1].date == PartialDate(2020, 5)


def test_fingerprint_changes_with_content(write_jsonl):
    one = load_corpus(write_jsonl([{"id": "a", "title": "T", "source": "S", "text": "x y z."}]))
    two = load_corpus(write_jsonl([{"id": "a", "title": "T", "source": "S", "text": "x y w."}]))
    assert one.fingerprint != two.fingerprint


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "a", "title": "T", "source": "S", "date": "2013-13-01", "text": "x"}', "bad date"),
    ('{"id": "a", "title": "T", "source": "S", "date": "yesterday", "text": "x"}', "not an ISO 8601 date"),
    ('{"id": "a", "title": "T", "source": "S"}', "field 'text' is missing"),
    ('{"id": "a", "title": "T", "source": "S", "text": "  "}', "'text' must be a non-empty string"),
    ('{"id": 3, "title": "T", "source": "S", "text": "x"}', "'id' must be a non-empty string"),
    ('{"id": "a", "title": "T", "source": "S", "text": "x", "colour": "red"}', "unknown field 'colour'"),
    ('{"id": "a", "title": "T", "source": "S", "text": "x", "date": 2013}', "'date' must be a string"),
    ('["not", "an", "object"]', "expected a JSON object"),
    ('{"id": "a", ', "not valid JSON"),
])
def test_bad_jsonl_line_is_named_with_file_and_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "ok", "title": "T", "source": "S", "text": "x"}\n' + line + "\n")
    with pytest.raises(CorpusError) as info:
        load_corpus(path)
    assert f"{path}:2" in str(info.value)
    assert message in str(info.value)


def test_missing_path():
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus("/no/such/corpus")


def test_empty_directory(tmp_path: Path):
    with pytest.raises(CorpusError, match="holds no article files"):
        load_corpus(tmp_path)


def test_non_utf8_file(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes(b'+++\nid = "a"\ntitle = "T"\nsource = "S"\n+++\nCaf\xe9 au lait.\n')
    with pytest.raises(CorpusError, match=r"not UTF-8 text \(byte 0xe9"):
        load_corpus(tmp_path)


def test_duplicate_ids(write_jsonl):
    record = {"id": "a", "title": "T", "source": "S", "text": "x"}
    with pytest.raises(CorpusError, match="appears more than once"):
        load_corpus(write_jsonl([record, record]))


@pytest.mark.parametrize(("raw", "message"), [
    ("no front matter\n", "must start with a '+++' line"),
    ('+++\nid = "a"\n', "not closed"),
    ('+++\nid = a\n+++\ntext\n', "not valid TOML"),
])
def test_bad_article_file(raw: str, message: str):
    with pytest.raises(CorpusError) as info:
        parse_article_file(raw, "x.txt")
    assert message in str(info.value) and str(info.value).startswith("x.txt: ")


def test_front_matter_keeps_text_exactly():
    raw = '+++\nid = "a"\ntitle = "T"\nsource = "S"\n+++\n  Leading spaces\r\nand CRLF kept.\n\n'
    assert parse_article_file(raw, "x.txt").text == "  Leading spaces\r\nand CRLF kept.\n\n"
