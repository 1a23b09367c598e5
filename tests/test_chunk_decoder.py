"""The CLI's decoding ahead (forensics/batch/engine.py ChunkDecoder): every file of every chunk,
in order, decoded or with the reason it cannot be; a run cut short leaves no thread behind."""
import threading

from forensics.batch.engine import ChunkDecoder
from helpers import encode, make_photo


def files(tmp_path, n):
    out = []
    for i in range(n):
        path = tmp_path / f"f{i}.png"
        path.write_bytes(b"" if i == 3 else encode(make_photo(64 + i, 48, seed=i)))  # f3 is empty
        out.append((f"label{i}", path))
    return out


def test_chunks_in_order_with_each_file_decoded_or_its_reason(tmp_path):
    given = files(tmp_path, 7)
    seen = list(ChunkDecoder(given, 3, workers=2))
    assert [chunk for chunk, _ in seen] == [given[0:3], given[3:6], given[6:7]]
    for chunk, decoded in seen:
        assert list(decoded) == [path for _, path in chunk]
        for (_, path), result in zip(chunk, decoded.values()):
            if path.name == "f3.png":
                assert isinstance(result, str) and "empty" in result.lower()
            else:
                rgb, info = result
                assert rgb.size == (64 + int(path.stem[1:]), 48) and info.name == path.name


def test_a_run_cut_short_leaves_no_decoding_thread(tmp_path):
    before = {t for t in threading.enumerate() if t.name.startswith("decode")}
    decoder = ChunkDecoder(files(tmp_path, 9), 2, workers=2)
    for chunk, decoded in decoder:
        break  # the caller stops after the first chunk (an error, Ctrl-C)
    decoder.close()
    assert {t for t in threading.enumerate() if t.name.startswith("decode")} <= before
