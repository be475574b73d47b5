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
    ("+++\nx = " + "[" * 100_000 + "]" * 100_000 + "\n+++\ntext\n", "nested too deeply"),
    ("+++\nx = " + "9" * 5000 + "\n+++\ntext\n", "not valid TOML (Exceeds the limit"),
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


# ------------------------------------------------- input that used to pass and then crash
_GOOD = '{"id": "ok", "title": "T", "source": "S", "text": "x"}\n'


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "a", "title": "T", "source": "S", "text": "bad \\ud800 text."}',
     "field 'text' holds a lone surrogate"),
    ('{"id": "\\udfff", "title": "T", "source": "S", "text": "x"}',
     "field 'id' holds a lone surrogate"),
    ('{"id": "a", "title": "T", "source": "S", "text": "x", "author": "\\ud83d"}',
     "field 'author' holds a lone surrogate"),
    ('{"id": "a", "title": "T", "source": "S", "text": "x", "n": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nested too deeply"),
    ('{"id": ' + "9" * 5000 + ', "title": "T", "source": "S", "text": "x"}', "not valid JSON"),
])
def test_input_that_crashed_is_one_line_naming_file_and_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "c.jsonl"
    path.write_text(_GOOD + line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(path)
    assert str(info.value).startswith(f"{path}:2: ") and message in str(info.value)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_a_lone_surrogate_fails_the_command_with_one_line(tmp_path: Path, capsys):
    from bot.cli import main
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "title": "T", "source": "S", "text": "The ministers met in '
                    'Paris on Monday \\ud800 to talk."}\n', encoding="utf-8")
    code = main(["index", "--corpus", str(path), "--index-dir", str(tmp_path / "idx")])
    err = capsys.readouterr().err
    assert code == 1 and f"{path}:1: field 'text' holds a lone surrogate" in err
    assert not (tmp_path / "idx").exists()


def test_unreadable_corpus_directory(tmp_path: Path, monkeypatch):
    def refuse(self):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(CorpusError, match=f"cannot read corpus directory {tmp_path}: Permission denied"):
        load_corpus(tmp_path)


ARTICLE_CRLF = ('+++\r\nid = "a"\r\ntitle = "T"\r\nsource = "S"\r\ndate = "2013-01-23"\r\n+++\r\n'
                'The ministers met in Paris on Monday to talk about the treaty.\r\n'
                '\r\nThey agreed to meet again in the spring, officials said.\r\n')


def test_crlf_and_bom_article_files_are_read_and_their_text_kept_verbatim(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbf" + ARTICLE_CRLF.encode("utf-8"))
    article = load_corpus(tmp_path).articles[0]
    assert (article.id, article.date) == ("a", PartialDate(2013, 1, 23))
    assert article.text == ARTICLE_CRLF.split("+++\r\n")[2]  # CRs kept: offsets slice it as read


def test_crlf_article_answers_with_exact_sentence(tmp_path: Path, settings_for):
    from retrieval.service import QAService
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(b"\xef\xbb\xbf" + ARTICLE_CRLF.encode("utf-8"))
    # The best candidate, answer or not: whether a two-sentence corpus says enough to answer
    # is the confidence's business (tests/test_answer_steps.py); this test is about offsets.
    result = QAService(settings_for(corpus)).ask("When will the ministers meet again?")
    assert "They agreed to meet again in the spring, officials said." in [
        a.text for a in result.ranked]


def test_a_cr_only_article_file_is_read_and_answers_with_the_exact_sentence(tmp_path: Path,
                                                                              settings_for):
    """Classic Mac line endings (a lone CR) are line ends too, as Python's universal newlines
    read them; the text stays verbatim."""
    from retrieval.service import QAService
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    raw = ARTICLE_CRLF.replace("\r\n", "\r")
    (corpus / "a.txt").write_bytes(raw.encode("utf-8"))
    article = load_corpus(corpus).articles[0]
    assert (article.id, article.title, article.date) == ("a", "T", PartialDate(2013, 1, 23))
    assert article.text == raw.split("+++\r")[2]
    result = QAService(settings_for(corpus)).ask("When will the ministers meet again?")
    assert "They agreed to meet again in the spring, officials said." in [
        a.text for a in result.ranked]


def test_bom_and_crlf_in_jsonl(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _GOOD.replace("\n", "\r\n").encode()
                     + b'{"id": "b", "title": "T", "source": "S", "text": "y\\r\\nz"}\r\n')
    corpus = load_corpus(path)
    assert [a.id for a in corpus.articles] == ["ok", "b"] and corpus.articles[1].text == "y\r\nz"


def test_an_empty_corpus_says_so(tmp_path: Path, caplog):
    path = tmp_path / "c.jsonl"
    path.write_text("\n")
    assert len(load_corpus(path)) == 0
    assert [r.getMessage() for r in caplog.records] == [f"corpus {path} holds no articles"]


def test_skipped_entries_are_named(tmp_path: Path, caplog):
    (tmp_path / "a.jsonl").write_text(_GOOD)
    (tmp_path / "notes.md").write_text("mine")
    (tmp_path / "sub").mkdir()
    (tmp_path / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    assert len(load_corpus(tmp_path)) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "skipped 3 entries" in messages[0] and "notes.md" in messages[0] and "sub/" in messages[0]


def test_duplicate_id_names_both_lines(write_jsonl):
    record = {"id": "a", "title": "T", "source": "S", "text": "x"}
    path = write_jsonl([record, {**record, "id": "b"}, record])
    with pytest.raises(CorpusError, match=f"{path}:3: article id 'a' appears more than once "
                                          rf"\(first at {path}:1\)"):
        load_corpus(path)
