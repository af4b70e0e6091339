"""Data files: every bad file and bad argument ends in a clear error or the right arrays, and no row is lost.

The classes of trouble: a byte-order mark or an empty cell in the first row (a row taken as a
header), special files (devices, FIFOs), text that is not UTF-8, arrays of the wrong kind in an
``.npz``, target columns by name or index, and a target that would be a guess.
"""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import data as data_module
from chainrule.data import CsvData, Standardizer, load_inputs, load_xy, one_hot, read_csv, train_test_split


def _write(path, text: str | bytes):
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def _finishes(fn, seconds: float = 10.0):
    """Run ``fn`` in a thread; return what it raised (or returned), failing if it has not ended in time."""
    out: dict[str, object] = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out["value"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn} still runs after {seconds} s"
    return out["value"]


# ---------------------------------------------------------------------------------------------
# Item 3: BOM, empty cells, header detection.


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_headerless_file_with_a_byte_order_mark_keeps_its_first_row(tmp_path, newline):
    text = newline.join(["1,2,0", "3,4,1", "5,6,0"]) + newline
    path = _write(tmp_path / "d.csv", b"\xef\xbb\xbf" + text.encode())
    X, y, names = read_csv(path)
    assert X.tolist() == [[1, 2], [3, 4], [5, 6]] and y.tolist() == [0, 1, 0] and names == ["x0", "x1"]
    X, Y = load_xy(path, 2)
    assert X.shape == (3, 2) and Y.tolist() == [0, 1, 0]
    assert load_inputs(path, 3).shape == (3, 3)


def test_a_byte_order_mark_does_not_stick_to_the_first_name(tmp_path):
    path = _write(tmp_path / "d.csv", b"\xef\xbb\xbfa,b,label\n1,2,0\n3,4,1\n")
    result = read_csv(path, "a")
    assert result.target_name == "a" and result.feature_names == ["b", "label"]


def test_first_row_with_an_empty_cell_is_data_and_a_missing_value(tmp_path):
    path = _write(tmp_path / "d.csv", "1,,0\n3,4,1\n")
    for call in (lambda: read_csv(path), lambda: load_xy(path, 2), lambda: load_inputs(path, 2)):
        with pytest.raises(cr.ChainruleError, match=r"d\.csv, line 1, column 1 \(counting from 0\): missing value ''"):
            call()


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 5),
    cols=st.integers(2, 5),
    where=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    header=st.booleans(),
    marker=st.sampled_from(["", "  ", "NA", "nan", "?", "null"]),
)
def test_an_empty_cell_anywhere_is_a_missing_value_naming_line_and_column(
    tmp_path_factory, rows, cols, where, header, marker
):
    r, c = where[0] % rows, where[1] % cols
    table = [[str(i * cols + j + 0.5) for j in range(cols)] for i in range(rows)]
    table[r][c] = marker
    lines = ([",".join(f"f{j}" for j in range(cols))] if header else []) + [",".join(row) for row in table]
    path = _write(tmp_path_factory.mktemp("m") / "d.csv", "\n".join(lines) + "\n")
    column = f"column 'f{c}'" if header else f"column {c} \\(counting from 0\\)"
    line = r + 1 + header
    with pytest.raises(cr.ChainruleError, match=rf"line {line}, {column}: missing value"):
        read_csv(path, 0)


def test_header_detection(tmp_path):
    # names (and empty cells) only: a header; the empty one is named by its index
    r = read_csv(_write(tmp_path / "a.csv", ",b,label\n1,2,0\n3,4,1\n"), "label")
    assert r.has_header and r.feature_names == ["x0", "b"] and r.X.tolist() == [[1, 2], [3, 4]]
    # numbers only: data, none lost
    r = read_csv(_write(tmp_path / "b.csv", "1e3,-2.5,.5\n3,4,1\n"), -1)
    assert not r.has_header and r.X.tolist() == [[1000, -2.5], [3, 4]]
    # names and numbers mixed: data, so its names are errors, and the message says why
    with pytest.raises(
        cr.ChainruleError, match=r"line 1, column 2 \(counting from 0\): 'c' is not a number.*mixes names"
    ):
        read_csv(_write(tmp_path / "c.csv", "1,2,c\n3,4,1\n"))
    # numbers that Python's float() takes but a CSV does not write: names
    r = read_csv(_write(tmp_path / "d.csv", "1_0,٣,b\n3,4,1\n"), "b")
    assert r.has_header and r.feature_names == ["1_0", "٣"]
    # quoted cells, spaces around cells, blank lines
    r = read_csv(_write(tmp_path / "e.csv", '"a, b", c ,"d"\n\n "1" ,2,3\n\n4,5,6\n'), "d")
    assert r.feature_names == ["a, b", "c"] and r.X.tolist() == [[1, 2], [4, 5]] and r.y.tolist() == [3, 6]


@pytest.mark.parametrize(
    "content,match",
    [
        ("", r"is empty"),
        ("\ufeff\n\n", r"is empty"),
        ("a,b\n", r"has a header but no rows"),
        ("1,2,3\n4,5\n", r"line 2: 2 columns, expected 3"),
        ("a,b\n1,inf\n", r"line 2, column 'b': 'inf' is not a finite number"),
        ("a,b\n1,1e999\n", r"line 2, column 'b': '1e999' is not a finite number"),
        ("a,b\n1,-Infinity\n", r"'-Infinity' is not a finite number"),
        ('a,b\n1,"2\n3,4\n', r"line 3, column 'b': '2\\n3,4' is not a number"),  # a quote never closed
        ("a,b\n1," + "9" * 200_000 + "\n", r"line 2: not a well-formed CSV row \(field larger than field limit"),
        ("a,b\n1,x\x00\n", r"line 2, column 'b': 'x\\x00' is not a number"),
    ],
)
def test_bad_tables(tmp_path, content, match):
    path = _write(tmp_path / "d.csv", content)
    with pytest.raises(cr.ChainruleError, match=match):
        read_csv(path, 0)


def test_a_line_longer_than_the_bound_is_an_error_not_a_memory_sink(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "MAX_LINE_BYTES", 1000)
    path = _write(tmp_path / "d.csv", "1,2\n" + "1," * 600 + "\n")
    with pytest.raises(cr.ChainruleError, match=r"d\.csv, line 2: longer than"):
        load_inputs(path, 1)


# ---------------------------------------------------------------------------------------------
# Item 9: text that is not UTF-8; bad paths.


@pytest.mark.parametrize(
    "content,line,offset,byte",
    [
        (b"a,b\n1,\xe92\n", 2, 6, "e9"),  # Latin-1
        (b"\xef\xbb\xbf1,2\n3,4\n5,\xff\n", 3, 13, "ff"),  # offsets count the BOM
        (b"1,2\r3,\xc3\n", 2, 6, "c3"),  # a cut multi-byte character, old Mac line ends
    ],
)
def test_text_that_is_not_utf8_is_named_by_line_and_offset(tmp_path, content, line, offset, byte):
    path = _write(tmp_path / "latin.csv", content)
    for call in (lambda: read_csv(path, 0), lambda: load_xy(path, 1), lambda: load_inputs(path, 1)):
        with pytest.raises(cr.ChainruleError) as info:
            call()
        message = str(info.value)
        assert f"latin.csv, line {line}: the byte 0x{byte} at offset {offset} is not UTF-8" in message
        assert "save the file as UTF-8" in message and len(message.splitlines()) == 1
        assert content[offset] == int(byte, 16)


def test_utf16_says_so(tmp_path):
    path = _write(tmp_path / "d.csv", "a,b\n1,2\n".encode("utf-16"))
    with pytest.raises(cr.ChainruleError, match=r"is UTF-16 text; save it as UTF-8"):
        read_csv(path, 0)


@pytest.mark.parametrize("bad", ["a\x00b.csv", "", None, 3.5, ["d.csv"]])
def test_bad_paths_name_the_parameter(bad):
    for call in (lambda: read_csv(bad), lambda: load_xy(bad, 2), lambda: load_inputs(bad, 2)):
        with pytest.raises(cr.ChainruleError, match=r"^path must be a file path"):
            call()


def test_missing_files_and_folders(tmp_path):
    for name in ("none.csv", "none.npz"):
        with pytest.raises(FileNotFoundError) as info:
            load_xy(tmp_path / name, 2)
        assert info.value.filename == str(tmp_path / name)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(cr.ChainruleError, match=r"dir\.csv is a folder, not a regular file"):
        read_csv(tmp_path / "dir.csv")
    with pytest.raises(cr.ChainruleError, match=r"data files are \.npz \(arrays X and Y\) or \.csv; got no suffix"):
        load_inputs(tmp_path / "data", 2)


@pytest.mark.parametrize("n_inputs", [0, -1, 1.5, "2", None, True])
def test_n_inputs_is_checked_for_csv(tmp_path, n_inputs):
    path = _write(tmp_path / "d.csv", "1,2,3\n")
    with pytest.raises(cr.ChainruleError, match=r"^n_inputs must be"):
        load_xy(path, n_inputs)


# ---------------------------------------------------------------------------------------------
# Item 4: special files are refused at once.


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_devices_are_refused_at_once(tmp_path, device, suffix):
    assert os.path.exists(device)  # Linux and macOS have both
    link = tmp_path / f"data{suffix}"
    link.symlink_to(device)
    for call in (lambda: load_xy(link, 2), lambda: load_inputs(link, 2), lambda: read_csv(device)):
        raised = _finishes(call)
        assert isinstance(raised, cr.ChainruleError) and "character device, not a regular file" in str(raised)


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_a_fifo_without_a_writer_is_refused_not_waited_on(tmp_path, suffix):
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    for call in (lambda: load_xy(fifo, 2), lambda: load_inputs(fifo, 2), lambda: read_csv(fifo)):
        raised = _finishes(call)
        assert isinstance(raised, cr.ChainruleError) and "FIFO (named pipe), not a regular file" in str(raised)


# ---------------------------------------------------------------------------------------------
# Item 9: the arrays of an .npz.


@pytest.mark.parametrize(
    "X,match",
    [
        (np.ones((3, 2), dtype=complex), r"X in .*x\.npz has dtype complex128 \(complex numbers\); X must hold real"),
        (np.zeros((3, 2), dtype="datetime64[D]"), r"dtype datetime64\[D\] \(dates and times\)"),
        (np.zeros((3, 2), dtype="timedelta64[s]"), r"dtype timedelta64\[s\] \(time deltas\)"),
        (np.array([["a", "b"]] * 3), r"dtype <U1 \(strings\)"),
        (np.array([[b"a", b"b"]] * 3), r"dtype \|S1 \(bytes\)"),
        (np.zeros((3, 2), dtype=[("a", "f8")]), r"has a structured dtype .*; chainrule reads plain arrays"),
        (np.array([{"a": 1}] * 3, dtype=object), r"holds pickled Python objects in .X.; chainrule never unpickles"),
        (
            np.ones(3),
            r"X in .* is 1-D, shape \(3,\); X must be 2-D, \(n_samples, n_features\): save X\.reshape\(-1, 1\)",
        ),
        (np.ones((3, 2, 1)), r"X in .* has shape \(3, 2, 1\); X must be 2-D"),
        (np.float64(1.0), r"has shape \(\); X must be 2-D"),
        (np.ones((0, 2)), r"X in .* has no samples \(rows\): shape \(0, 2\)"),
        (np.ones((3, 0)), r"has no features \(columns\): shape \(3, 0\)"),
        (np.array([[1.0, np.nan]] * 3), r"X in .* contains nan \(NaN or inf\) at row 0, column 1"),
    ],
)
def test_npz_x_must_be_2d_real_numbers(tmp_path, X, match):
    np.savez(tmp_path / "x.npz", X=X, Y=np.zeros(3))
    with pytest.raises(cr.ChainruleError, match=match):
        load_xy(tmp_path / "x.npz", 2)
    np.savez(tmp_path / "x.npz", X=X)
    with pytest.raises(cr.ChainruleError, match=match):
        load_inputs(tmp_path / "x.npz", 2)


@pytest.mark.parametrize(
    "Y,match",
    [
        (np.zeros(4), r"X in .* has 3 samples \(rows\) but Y has 4; they must match"),
        (np.zeros((3, 1, 1)), r"Y in .* has shape \(3, 1, 1\); Y must be 1-D"),
        (np.zeros((3, 0)), r"Y in .* has shape \(3, 0\)"),
        (np.array(["a", "b", "c"]), r"Y in .* has dtype <U1 \(strings\)"),
        (np.array([0.0, np.inf, 1.0]), r"Y in .* contains inf \(NaN or inf\) at sample 1"),
    ],
)
def test_npz_y_is_checked(tmp_path, Y, match):
    np.savez(tmp_path / "y.npz", X=np.ones((3, 2)), Y=Y)
    with pytest.raises(cr.ChainruleError, match=match):
        load_xy(tmp_path / "y.npz", 2)


@pytest.mark.parametrize("dtype", [bool, np.int8, np.uint16, np.int64, np.float16, np.float32, np.float64])
def test_npz_real_dtypes_are_read_as_they_are(tmp_path, dtype):
    X = (np.arange(6).reshape(3, 2) % 2).astype(dtype)
    np.savez(tmp_path / "ok.npz", X=X, Y=np.array([0, 1, 1]))
    got, Y = load_xy(tmp_path / "ok.npz", 2)
    assert got.dtype == np.dtype(dtype) and np.array_equal(got, X) and Y.tolist() == [0, 1, 1]
    assert np.array_equal(load_inputs(tmp_path / "ok.npz", 2), X)


def test_npz_inputs_alone_and_damaged_archives(tmp_path):
    np.savez(tmp_path / "x.npz", X=np.ones((2, 2)))
    assert load_inputs(tmp_path / "x.npz", 2).shape == (2, 2)  # predict needs no Y
    with pytest.raises(cr.ChainruleError, match=r"needs arrays named X and Y; it has X$"):
        load_xy(tmp_path / "x.npz", 2)
    np.savez(tmp_path / "w.npz", inputs=np.ones(2))
    with pytest.raises(cr.ChainruleError, match=r"needs an array named X; it has inputs$"):
        load_inputs(tmp_path / "w.npz", 2)
    _write(tmp_path / "t.npz", (tmp_path / "x.npz").read_bytes()[:-30])
    with pytest.raises(cr.ChainruleError, match=r"not an \.npz archive \(or truncated\)"):
        load_xy(tmp_path / "t.npz", 2)
    good = bytearray((tmp_path / "x.npz").read_bytes())
    good[good.index(b"\x93NUMPY") + 60] ^= 0xFF  # one byte of the array data: the CRC no longer matches
    _write(tmp_path / "c.npz", bytes(good))
    with pytest.raises(cr.ChainruleError, match=r"c\.npz is corrupt or truncated"):
        load_inputs(tmp_path / "c.npz", 2)


def test_target_on_an_npz_is_an_error_not_ignored(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.ones((2, 2)), Y=np.zeros(2))
    for target in ("label", -1, 0):
        with pytest.raises(
            cr.ChainruleError, match=r"target \(--target\) picks a column of a CSV file; .*d\.npz is an"
        ):
            load_xy(tmp_path / "d.npz", 2, target)
    assert load_xy(tmp_path / "d.npz", 0, None)[0].shape == (2, 2)


# ---------------------------------------------------------------------------------------------
# Item 15 and 9: which column is the target.

IRIS_LIKE = "species,sepal_length,petal_width\n0,5.1,0.2\n1,7.0,1.4\n2,6.3,2.5\n"


def test_a_guessed_target_is_refused(tmp_path):
    path = _write(tmp_path / "iris.csv", IRIS_LIKE)
    with pytest.raises(cr.ChainruleError) as info:
        read_csv(path)
    message = str(info.value)
    assert message.startswith("which column is the target?")
    assert "'petal_width' holds 0.2, not a class label" in message
    assert "give --target NAME" in message and "columns: species, sepal_length, petal_width" in message
    result = read_csv(path, "species")
    assert result.y.tolist() == [0, 1, 2] and result.feature_names == ["sepal_length", "petal_width"]
    assert result.target_text == "column 'species'" and result.chosen == "name"


def test_many_different_whole_numbers_are_no_class_labels(tmp_path):
    rows = "\n".join(f"{i},{i * 3}" for i in range(data_module.MAX_GUESSED_CLASSES + 1))
    with pytest.raises(cr.ChainruleError, match=r"'count' holds 51 different whole numbers"):
        read_csv(_write(tmp_path / "d.csv", "x,count\n" + rows + "\n"))
    assert read_csv(_write(tmp_path / "n.csv", rows + "\n")).y.size == 51  # no header: the last, documented


def test_the_last_column_when_that_is_no_guess(tmp_path):
    result = read_csv(_write(tmp_path / "h.csv", "a,b,species\n1,2.5,0\n3,4,2\n-1,0,1\n"))
    assert isinstance(result, CsvData) and len(result) == 3
    X, y, names = result  # unpacks as before
    assert result[0] is X and result[1] is y and result[2] is names
    assert y.tolist() == [0, 2, 1] and names == ["a", "b"] and X.shape == (3, 2)
    assert (result.target_name, result.target_index, result.chosen) == ("species", 2, "last")
    assert result.target_text == "column 'species' (the last)"
    result = read_csv(_write(tmp_path / "n.csv", "1,2.5,0.5\n3,4,2.25\n"))
    assert result.y.tolist() == [0.5, 2.25] and result.feature_names == ["x0", "x1"]
    assert result.target_text == "column 2 (the last; the file has no header row)"


def test_targets_by_index(tmp_path):
    path = _write(tmp_path / "h.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8\n")
    for target, col in [("-1", 3), ("0", 0), ("+2", 2), ("-4", 0), (1, 1), (np.int64(-2), 2)]:
        result = read_csv(path, target)
        assert result.target_index == col and result.y.tolist() == [1 + col, 5 + col]
        assert result.target_text == f"column {'abcd'[col]!r} (index {col})" and result.chosen == "index"
    assert read_csv(_write(tmp_path / "n.csv", "1,2\n3,4\n"), 0).target_text == "column 0"
    X, Y = load_xy(path, 99, target="b")
    assert X.tolist() == [[1, 3, 4], [5, 7, 8]] and Y.tolist() == [2, 6]


@pytest.mark.parametrize(
    "target,match",
    [
        ("4", r"target column '4' is out of range: .* has columns 0\.\.3 \(-4\.\.-1 from the end\)"),
        ("-5", r"target column '-5' is out of range"),
        (7, r"target column 7 is out of range"),
        ("9" * 5000, r"target column '9999.*' is out of range"),
        ("²", r"has no column '²'; its columns: a, b, c, d"),  # "²".isdigit() is True, but it is a name
        ("1.5", r"has no column '1\.5'"),
        ("abc", r"has no column 'abc'; its columns: a, b, c, d\.$"),
        ("dd", r"has no column 'dd'; its columns: a, b, c, d\. Did you mean 'd'\?"),
        (" 1", r"has no column ' 1'"),
        ("١", r"has no column '١'"),  # an Arabic-Indic one: not an ASCII index
        (1.5, r"^target must be a column name \(str\) or index \(int\); got 1\.5 \(float\)"),
        (True, r"^target must be a column name \(str\) or index \(int\); got True \(bool\)"),
        (b"a", r"^target must be a column name"),
    ],
)
def test_bad_targets(tmp_path, target, match):
    path = _write(tmp_path / "h.csv", "a,b,c,d\n1,2,3,4\n")
    with pytest.raises(cr.ChainruleError, match=match) as info:
        read_csv(path, target)
    assert len(str(info.value)) < 400


def test_names_that_look_like_indices_still_work_as_names(tmp_path):
    path = _write(tmp_path / "h.csv", "a,b1.5,²\n1,2,3\n4,5,6\n")
    assert read_csv(path, "²").y.tolist() == [3, 6] and read_csv(path, "b1.5").y.tolist() == [2, 5]
    assert read_csv(path, "1").target_name == "b1.5"  # a decimal string is an index


def test_names_without_a_header_and_twice_the_same_name(tmp_path):
    with pytest.raises(
        cr.ChainruleError, match=r"has no header row, so target 'a' cannot name a column; give a column"
    ):
        read_csv(_write(tmp_path / "n.csv", "1,2\n3,4\n"), "a")
    with pytest.raises(cr.ChainruleError, match=r"has 2 columns named 'a' \(indices 0, 2\); give the target by index"):
        read_csv(_write(tmp_path / "d.csv", "a,b,a\n1,2,3\n"), "a")
    with pytest.raises(cr.ChainruleError, match=r"has a single column: nothing is left for the inputs"):
        read_csv(_write(tmp_path / "s.csv", "a\n1\n"), 0)


def test_long_column_lists_are_cut(tmp_path):
    names = [f"feature_{i}_" + "x" * 50 for i in range(100)]
    path = _write(tmp_path / "w.csv", ",".join(names) + "\n" + ",".join(["0.5"] * 100) + "\n")
    with pytest.raises(cr.ChainruleError) as info:
        read_csv(path)
    assert "(100 in all)" in str(info.value) and len(str(info.value)) < 1000


# ---------------------------------------------------------------------------------------------
# Standardizer, one_hot, train_test_split: their arguments.


@pytest.mark.parametrize(
    "d,match",
    [
        ([1, 2], r"^input scaling must be a dict with lists 'mean' and 'scale'.*got list"),
        ({"mean": [0.0]}, r"^input scaling must be a dict .*got keys \['mean'\]"),
        ({"mean": "ab", "scale": [1.0]}, r"the Standardizer's mean must be a list of numbers; got 'ab'"),
        ({"mean": ["a"], "scale": [1.0]}, r"the Standardizer's mean must be numeric"),
        ({"mean": [0.0], "scale": [float("nan")]}, r"the Standardizer's scale contains nan .* at feature 0"),
        ({"mean": [0.0, 1.0], "scale": [1.0]}, r"mean has 2 values but its scale 1"),
        (
            {"mean": [0.0, 1.0], "scale": [1.0, 0.0]},
            r"scale must be > 0 \(at least 2.23e-308\) for every feature; got 0 for",
        ),
        ({"mean": [0.0, 1.0], "scale": [1.0, 1e-320]}, r"at least 2.23e-308\) for every feature; got 9.99989e-321 for"),
        ({"mean": [0.0], "scale": [-2.0]}, r"got -2 for feature 0"),
        ({"mean": [], "scale": []}, r"mean must be a non-empty list"),
        ({"mean": [[0.0]], "scale": [[1.0]]}, r"got shape \(1, 1\)"),
        ({"mean": [0.0], "scale": None}, r"needs both mean and scale"),
        ({"mean": [1j], "scale": [1.0]}, r"mean must be numeric"),
    ],
)
def test_standardizer_from_dict_is_checked(d, match):
    with pytest.raises(cr.ChainruleError, match=match):
        Standardizer.from_dict(d)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=5).flatmap(
        lambda mean: st.tuples(st.just(mean), st.lists(st.floats(1e-6, 1e6), min_size=len(mean), max_size=len(mean)))
    )
)
def test_standardizer_round_trip(stats):
    mean, scale = stats
    s = Standardizer.from_dict({"mean": mean, "scale": scale})
    assert Standardizer.from_dict(s.to_dict()).to_dict() == {"mean": mean, "scale": scale}
    X = np.ones((2, len(mean)))
    np.testing.assert_allclose(s.transform(X), (X - np.array(mean)) / np.array(scale))


@pytest.mark.parametrize(
    "X,match",
    [
        (np.ones(2), r"^X must be 2-D, \(n_samples, n_features\)"),
        (np.ones((0, 2)), r"^X must be 2-D.*got shape \(0, 2\)"),
        ([["a", "b"]], r"^X must be numeric"),
        (np.array([[1.0, np.inf]]), r"^X contains inf"),
        (np.ones((2, 3)), r"X has shape \(2, 3\); the Standardizer was fitted on 2 features"),
    ],
)
def test_standardizer_transform_and_fit_are_checked(X, match):
    s = Standardizer().fit(np.array([[0.0, 1.0], [2.0, 3.0]]))
    with pytest.raises(cr.ChainruleError, match=match):
        s.transform(X)
    if "fitted on" not in match:
        with pytest.raises(cr.ChainruleError, match=match):
            Standardizer().fit(X)
    with pytest.raises(cr.ChainruleError, match=r"not fitted"):
        Standardizer().to_dict()


@pytest.mark.parametrize(
    "labels,n_classes,match",
    [
        (["a", "b"], None, r"^labels must be numeric"),
        ([], None, r"non-empty 1-D array of whole numbers >= 0; got shape \(0,\)"),
        ([0.5, 1], None, r"values such as \[0\.5, 1\.0\]"),
        ([0, -1], None, r"got -1"),
        ([[0, 1]], None, r"got shape \(1, 2\)"),
        ([0, 3], 2, r"label 3 is out of range for n_classes = 2"),
        ([0, 1], 0, r"^n_classes must be a whole number >= 1"),
        ([0, 1], "2", r"^n_classes must be a whole number"),
    ],
)
def test_one_hot_arguments(labels, n_classes, match):
    with pytest.raises(cr.ChainruleError, match=match):
        one_hot(labels, n_classes)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"test_fraction": "0.2"}, r"^test_fraction must be between 0 and 1; got '0\.2' \(str\)"),
        ({"test_fraction": float("nan")}, r"^test_fraction must be between 0 and 1"),
        ({"test_fraction": True}, r"^test_fraction must be between 0 and 1"),
        ({"seed": -1}, r"^seed must be None, a whole number >= 0"),
        ({"seed": "x"}, r"^seed must be None"),
    ],
)
def test_train_test_split_arguments(kw, match):
    with pytest.raises(cr.ChainruleError, match=match):
        train_test_split(np.ones((10, 2)), np.zeros(10), **kw)
    with pytest.raises(cr.ChainruleError, match=r"X and y must be arrays of samples"):
        train_test_split(np.float64(1.0), np.zeros(10))


def test_scaling_that_overflows_is_an_error_not_a_warning():
    from chainrule.data import Standardizer

    s = Standardizer([0.0], [1e-300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(cr.ChainruleError, match=r"scaled by the input scaling is not finite at row 0, column 0"):
            s.transform([[1e10]])
