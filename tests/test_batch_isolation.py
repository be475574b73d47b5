"""`qabot ask --batch`: one bad line never costs the others (issue 8, item 4). Every input
line gets exactly one line of standard UTF-8 JSON out, with its id (or its line number when
the id cannot be echoed), and an "error" for what could not be asked."""
from __future__ import annotations

import io
import json
import math
import os
import select
import subprocess
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from bot.cli import main
from tests.conftest import ROOT

DIMA = "What is the Dima Yakovlev Law?"


@contextmanager
def _standard_streams(data: bytes) -> Iterator[io.BytesIO]:
    """sys.stdin reading ``data`` and sys.stdout into the yielded buffer, in this process."""
    out = io.BytesIO()
    saved = sys.stdin, sys.stdout
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stdin, sys.stdout = stdin, stdout
    try:
        yield out
    finally:
        sys.stdin, sys.stdout = saved
        stdout.detach()     # keep ``out`` open for the caller
        stdin.detach()


def run_batch(index_dir: str, data: bytes) -> tuple[int, list[dict[str, Any]]]:
    """``qabot ask --batch -`` in this process; the exit code and the parsed output lines
    (each checked to be standard JSON in UTF-8)."""
    with _standard_streams(data) as out:
        code = main(["ask", "--batch", "-", "--index-dir", index_dir])
    records = []
    for line in out.getvalue().split(b"\n")[:-1]:
        text = line.decode("utf-8")                  # strict: raises on invalid UTF-8
        records.append(json.loads(text, parse_constant=_no_constant))
    assert out.getvalue().endswith(b"\n") or not out.getvalue()
    return code, records


def _no_constant(name: str) -> None:
    raise AssertionError(f"non-standard JSON constant {name} in the output")


def test_each_bad_line_of_the_issue_gets_its_own_error(settings):
    lines = [
        b'\xef\xbb\xbf{"id": "bom", "question": "' + DIMA.encode() + b'"}',   # BOM on line 1
        b'{"id": "s1", "question": "What is \\ud800 this?"}',               # lone surrogate
        b'{"id": "\\udc00", "question": "' + DIMA.encode() + b'"}',          # ... in the id
        b'{"id": ' + b"7" * 5000 + b', "question": "' + DIMA.encode() + b'"}',  # 5,000 digits
        b'{"q": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",                  # deep nesting
        b"What is the \xff Dima Yakovlev Law?",                             # invalid UTF-8
        b'{"id": NaN, "question": "' + DIMA.encode() + b'"}',
        b'{"id": -Infinity, "question": "' + DIMA.encode() + b'"}',
        b"What is the Dima\rYakovlev Law?",                                 # a bare CR
        b'{"id": 12345678901234567890, "question": "' + DIMA.encode() + b'"}',
        DIMA.encode(),
    ]
    code, records = run_batch(str(settings.index.dir), b"\n".join(lines) + b"\n")
    assert code == 0
    assert [r["id"] for r in records] == ["bom", "s1", 3, 4, 5, 6, 7, 8, 9,
                                          12345678901234567890, 11]
    answered = {r["id"] for r in records if r["answer"] is not None}
    assert answered == {"bom", 9, 12345678901234567890, 11}
    assert all(r["answer"]["source"] == "RT" for r in records if r["answer"])
    errors = {r["id"]: r["error"] for r in records if "error" in r}
    assert errors["s1"] == ("line 2: the question is not valid text (it holds a lone "
                            "surrogate, or bytes that are not UTF-8)")
    assert errors[3].startswith('line 3: the "id" is not text')
    assert errors[4].startswith('line 4: the "id" is a number of 5,000 digits')
    assert errors[5] == "line 5: JSON nested too deeply"
    assert errors[6] == "line 6: not UTF-8 text (byte 0xff at column 13)"
    assert errors[7].startswith('line 7: the "id" is NaN')
    assert errors[8].startswith('line 8: the "id" is -Infinity')
    assert records[8]["question"] == "What is the Dima\rYakovlev Law?"
    assert records[5]["question"] is None          # invalid bytes are never copied out


def test_a_worker_gets_each_answer_as_soon_as_it_asks(settings):
    """`qabot ask --batch -` as a worker: one question in, one answer out, while the input
    is still open."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    worker = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--batch", "-",
                               "--index-dir", str(settings.index.dir)], cwd=ROOT, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        assert worker.stdin and worker.stdout
        for n, question in enumerate([DIMA, "Who is Sergey Magnitsky?", ""], start=1):
            worker.stdin.write(question.encode() + b"\n")
            worker.stdin.flush()
            ready, _, _ = select.select([worker.stdout], [], [], 60)
            assert ready, f"no answer to line {n} while the input is open: not flushed"
            record = json.loads(worker.stdout.readline())
            assert record["id"] == n and record["question"] == question
        worker.stdin.close()
        assert worker.wait(timeout=60) == 0
    finally:
        worker.kill()
        worker.wait()


# ---------------------------------------------------------------------------- fuzzing
LINE_NUMBER = object()   # the answer's id must be its line number
_WEIRD_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


def _json_line(ident: Any, ident_json: bytes, question: str, ascii_only: bool) -> bytes:
    body = json.dumps(question, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    return b'{"id": ' + ident_json + b', "question": ' + body + b"}"


@st.composite
def batch_line(draw: st.DrawFn) -> tuple[bytes, Any]:
    """A line, and the id its answer must carry (or LINE_NUMBER)."""
    kind = draw(st.sampled_from(["text", "bytes", "json", "nested", "huge"]))
    if kind == "text":
        return draw(_WEIRD_TEXT).encode("utf-8", "surrogatepass"), LINE_NUMBER
    if kind == "bytes":
        return draw(st.binary(max_size=40)), LINE_NUMBER
    if kind == "nested":
        depth = draw(st.integers(1, 50_000))
        opener = draw(st.sampled_from([b"[", b'{"a": ', b'{"id": [']))
        return (b"{" + opener * depth if opener != b"[" else b'{"q": ' + b"[" * depth,
                LINE_NUMBER)
    if kind == "huge":
        digits = draw(st.integers(4200, 4400))
        ident = b"9" * digits
        echoed = int(ident) if digits <= 4300 else LINE_NUMBER
        return _json_line(None, ident, DIMA, True), echoed
    question = draw(st.one_of(st.just(DIMA), _WEIRD_TEXT))
    ident = draw(st.one_of(st.integers(), st.text(max_size=10), _WEIRD_TEXT,
                           st.floats(allow_nan=True, allow_infinity=True), st.none()))
    ident_json = json.dumps(ident, ensure_ascii=True).encode()
    ascii_only = draw(st.booleans())
    # A lone surrogate written raw (not as a \u escape) makes the line bytes that are not
    # UTF-8: its id cannot be read, and the line number stands for it.
    raw_surrogate = not ascii_only and any("\ud800" <= c <= "\udfff" for c in question)
    echoable = (not isinstance(ident, float) or math.isfinite(ident)) and not (
        isinstance(ident, str) and any("\ud800" <= c <= "\udfff" for c in ident)) and not (
        raw_surrogate)
    return _json_line(ident, ident_json, question, ascii_only), (
        ident if echoable else LINE_NUMBER)


@hypothesis_settings(max_examples=25,
                     deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                           HealthCheck.data_too_large])
@given(lines=st.lists(batch_line(), min_size=1, max_size=12), bom=st.booleans(),
       cr=st.booleans(), last_newline=st.booleans())
def test_fuzz_one_valid_json_line_out_per_line_in(settings, lines, bom, cr, last_newline):
    raw = [line.replace(b"\n", b" ") for line, _ in lines]
    if cr:
        raw = [line.replace(b" ", b"\r", 1) for line in raw]
    last_newline = last_newline or raw[-1] == b""     # else the last line would not exist
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(raw) + (b"\n" if last_newline else b"")
    code, records = run_batch(str(settings.index.dir), data)
    assert code == 0, records
    assert len(records) == len(lines)
    for number, (record, (_, ident)) in enumerate(zip(records, lines), start=1):
        expected = number if ident is LINE_NUMBER else ident
        if isinstance(expected, float) and isinstance(record["id"], (int, float)):
            assert record["id"] == expected or (expected == 0.0 and record["id"] == 0)
        elif cr and isinstance(ident, str) and " " in ident:
            assert record["id"] in (ident, ident.replace(" ", "\r", 1))
        else:
            assert record["id"] == expected, (number, record)
        assert "internal error" not in record.get("error", "")
        assert ("error" in record) == (record["answer"] is None and record["message"] == "")


def test_a_strict_ascii_locale_changes_nothing(settings):
    """Under a strict locale the input is still read as UTF-8 bytes and the output written
    as UTF-8: non-ASCII questions are answered and invalid bytes are one line's error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QABOT_", "LC_", "LANG"))}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONIOENCODING="ascii:strict")
    data = ("What is the ‘Dima Yakovlev Law’?\n".encode() + b"caf\xe9 \xff\n" +
            '{"id": "é", "question": "Who is Sergey Magnitsky?"}\n'.encode())
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "--batch", "-", "--index-dir",
                           str(settings.index.dir)], input=data, capture_output=True, cwd=ROOT,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line.decode("utf-8")) for line in done.stdout.splitlines()]
    assert [r["id"] for r in records] == [1, 2, "é"]
    assert records[0]["question"] == "What is the ‘Dima Yakovlev Law’?"
    assert records[0]["answer"]["source"] == "RT" and records[2]["answer"] is not None
    assert records[1]["error"] == "line 2: not UTF-8 text (byte 0xe9 at column 4)"


def test_a_conversation_line_is_read_once_with_the_same_rules(settings):
    """A conversation line was parsed a second time without the id rules: a huge number in
    another field made an internal error reported under the wrong id."""
    data = (b'{"id": "a", "conversation": "c", "question": "What is the Dima Yakovlev Law?", '
            b'"x": ' + b"9" * 5000 + b'}\n'
            b'{"id": "b", "conversation": ["c"], "question": "Who signed it?"}\n')
    code, records = run_batch(str(settings.index_dir), data)
    assert code == 0
    assert [r["id"] for r in records] == ["a", "b"]
    assert records[0]["conversation"] == "c" and "Dima Yakovlev" in records[0]["answer"]["text"]
    assert "\"conversation\" must be a string" in records[1]["error"]
