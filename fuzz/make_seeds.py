#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ (replacing it).

The seeds are small and meaningful: the JSON examples of docs/protocol.md (as frame bodies and as
length-prefixed frames cut into chunks), prompt lines, and tiny audio files of each format the
library probes (made with sox and flac, plus hand-built Ogg Opus pages). Deterministic: the same
tools give the same bytes. Run it again after changing the examples; commit what it writes.
"""

import base64
import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def json_blocks(markdown: Path) -> list[str]:
    """The bodies of the ```json blocks, as test_docs_examples.cpp reads them."""
    blocks, current = [], None
    for line in markdown.read_text().splitlines():
        if current is None and line == "```json":
            current = []
        elif current is not None and line == "```":
            blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def compact(text: str) -> str:
    """The form encode() sends: no spaces, UTF-8 as is."""
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


def write(target: str, name: str, data: bytes | str) -> None:
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data.encode() if isinstance(data, str) else data)


# ----------------------------------------------------------------------------------------- codec
def codec_seeds(examples: list[str]) -> None:
    for text in examples:
        kind = json.loads(text)["type"].lower()
        name = f"doc_{kind}"
        n = 2
        while (CORPUS / "codec" / f"{name}.json").exists():
            name = f"doc_{kind}_{n}"
            n += 1
        write("codec", f"{name}.json", text)
    # Errors of each kind, so the fuzzer starts on every rejection path.
    write("codec", "err_not_json.json", '{"type":"LEAVE","from":')
    write("codec", "err_not_object.json", '["LEAVE"]')
    write("codec", "err_missing_type.json", '{"from":"node-a"}')
    write("codec", "err_unknown_type.json", '{"type":"GOODBYE","from":"node-a"}')
    write("codec", "err_missing_field.json", '{"type":"ELECTION","from":"node-a"}')
    write("codec", "err_wrong_type.json", '{"type":"ELECTION","from":"node-a","epoch":"4"}')
    write("codec", "err_out_of_range.json",
          '{"type":"HELLO","from":"","priority":1,"incarnation":1,'
          '"advertised":{"host":"h","port":70000},"version":0,"cluster":"c"}')
    write("codec", "err_too_deep.json", '{"type":"LEAVE","from":"a","x":' + "[" * 20 + "]" * 20 + "}")
    write("codec", "err_too_many_members.json",
          '{"type":"DISCOVERY","from":"a","members":[' + ",".join(["0"] * 1025) + "]}")
    write("codec", "err_track_not_play.json",
          '{"type":"CONTROL_REQUEST","from":"node-c","id":8,"command":"pause","track":3}')
    # The limits of protocol version 3: content hashes, binary fields, catalog pages, the seek
    # target, the content port, the chunk of a refusal.
    hash64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    write("codec", "err_hash_too_long.json",
          '{"type":"WANT","from":"node-c","hash":"' + hash64 + '0"}')
    write("codec", "err_hash_empty.json", '{"type":"MANIFEST_REQUEST","from":"node-c","hash":""}')
    write("codec", "err_hash_not_inert.json",
          '{"type":"CHUNK_REQUEST","from":"node-c","hash":"9f86\\u202e08","chunk":0}')
    # (No seed of a binary field over its 960 KiB: a megabyte seed would slow every run for a
    # plain length comparison, which the unit tests check at the limit.)
    write("codec", "err_binary_not_string.json",
          '{"type":"HAVE","from":"node-b","hash":"' + hash64 + '","chunks":3,"bitmap":[5]}')
    # The count is checked before any element, as for DISCOVERY.members.
    write("codec", "err_too_many_entries.json",
          '{"type":"CATALOG_PAGE","from":"node-b","catalog":"c","offset":0,"total":257,"entries":[' +
          ",".join(["0"] * 257) + "]}")
    write("codec", "err_refused_chunk.json",
          '{"type":"CONTENT_REFUSED","from":"node-b","hash":"' + hash64 + '","chunk":-2,"reason":""}')
    write("codec", "err_seek_not_seek.json",
          '{"type":"CONTROL_REQUEST","from":"node-c","id":8,"command":"pause",'
          '"seek":{"position_us":0,"relative":false}}')
    write("codec", "err_seek_missing.json",
          '{"type":"CONTROL_REQUEST","from":"node-c","id":9,"command":"seek"}')
    write("codec", "err_content_port.json",
          '{"type":"HELLO","from":"a","priority":1,"incarnation":1,"advertised":{"host":"h","port":1},'
          '"version":4,"cluster":"c","content_port":65536}')
    write("codec", "err_room_volume.json",
          '{"type":"ROOM_SET","from":"node-a","id":3,"action":"set","volume":101}')
    write("codec", "err_room_change_not_change.json",
          '{"type":"ROOM_SET","from":"node-a","id":4,"action":"mute","change":-10}')
    write("codec", "escapes.json",
          '{"type":"HELLO_REJECT","from":"n\\u00e9","reason":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\ud83c\\udfb5"}')


# ------------------------------------------------------------------------------- frame_decoder
def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def frame_seed(stream: bytes, chunks: list[int], cap_byte: int = 0) -> bytes:
    """fuzz_frame_decoder's input: `stream` fed in `chunks` (sizes 0..255 summing to its length),
    with the length cap chosen by `cap_byte` (< 128: the product's cap; else cap_byte − 127)."""
    assert sum(chunks) == len(stream) and all(0 <= c <= 255 for c in chunks)
    return stream + bytes(reversed(chunks)) + bytes([cap_byte])


def whole(stream: bytes) -> list[int]:
    """Chunks of at most 255 bytes."""
    sizes, left = [], len(stream)
    while left > 0:
        sizes.append(min(255, left))
        left -= sizes[-1]
    return sizes


def frame_seeds(examples: list[str]) -> None:
    bodies = {json.loads(t)["type"].lower(): compact(t).encode() for t in examples}
    hello = frame(bodies["hello"])
    write("frame_decoder", "hello_one_chunk", frame_seed(hello, whole(hello)))
    three = frame(bodies["heartbeat"]) + frame(bodies["election"]) + frame(bodies["coordinator"])
    # Cut one byte in, mid-header, at a header boundary and mid-body.
    cuts = [1, 2, 3, len(frame(bodies["heartbeat"])) - 3, 4, 10]
    cuts.append(len(three) - sum(cuts))
    write("frame_decoder", "three_frames_cut", frame_seed(three, cuts))
    byte_by_byte = frame(b'{"type":"LEAVE","from":"node-a"}')
    write("frame_decoder", "leave_byte_by_byte", frame_seed(byte_by_byte, [1] * len(byte_by_byte)))
    zero = frame(bodies["leave"]) + b"\0\0\0\0" + frame(bodies["leave"])
    write("frame_decoder", "zero_length_after_frame", frame_seed(zero, whole(zero)))
    # With a cap of 73 bytes (cap byte 200): a short frame, then one over the cap.
    small = frame(b'{"type":"LEAVE","from":"a"}') + frame(bodies["heartbeat"])
    write("frame_decoder", "over_small_cap", frame_seed(small, whole(small), 200))
    over = struct.pack(">I", (1 << 20) + 1) + b"{}"
    write("frame_decoder", "over_max_frame_bytes", frame_seed(over, whole(over)))
    # A content link's opening: CONTENT_HELLO, then a WANT answered by a HAVE, a manifest and a
    # chunk, cut at header and body boundaries.
    content = b"".join(frame(bodies[k]) for k in
                       ("content_hello", "want", "have", "manifest_request", "manifest",
                        "chunk_request", "chunk_data", "content_refused"))
    cuts = [4, len(bodies["content_hello"]) - 1, 1, 2, 2]
    cuts += whole(content[sum(cuts):])
    write("frame_decoder", "content_link", frame_seed(content, cuts))
    catalog = frame(bodies["catalog_request"]) + frame(bodies["catalog_page"]) + frame(bodies["catalog_notice"])
    write("frame_decoder", "catalog_exchange", frame_seed(catalog, whole(catalog)))


# ------------------------------------------------------------------------------------- command
def command_seeds() -> None:
    lines = {
        "peers": "peers", "peers_json": "peers --json", "list": "list", "list_json": "list --json\n",
        "play": "play 3", "play_zero": "play 0\r\n", "play_missing": "play",
        "play_negative": "play -1", "play_too_large": "play 2147483648",
        "play_not_number": "play three", "play_extra": "play 1 2",
        "pause": "pause", "resume": "resume", "stop": "stop", "next": "next", "prev": "prev",
        "status_json_spaces": " \tstatus\t --json \r\n", "debug_json": "debug --json",
        "debug_option": "debug --verbose", "debug_extra": "debug --json now", "help": "help",
        "exit": "exit", "quit": "quit", "exit_extra": "exit now", "unknown": "hello",
        "unknown_bytes": "pl\x00ay \x1b[31m\u00e9", "blank": " \t\v\f\r\n", "empty": "",
        "too_long": "play " + "9" * 4093,
        "queue": "queue --json", "add_number": "add 4", "add_query": "add daft punk",
        "delete_range": "delete 2-5", "delete_reversed": "delete 5-2", "move": "move 2-3 7",
        "clear": "clear", "random": "random on", "single_oneshot": "single oneshot",
        "consume_bad": "consume maybe", "volume": "volume", "volume_set": "volume 40",
        "volume_change": "volume -5", "volume_room": "volume kitchen +10", "volume_bad": "volume 101",
        "mute_room": "mute kitchen", "unmute": "unmute", "access": "access",
    }
    for name, line in lines.items():
        write("command", name, line)


# --------------------------------------------------------------------------------- mpd_request
def mpd_request_seeds() -> None:
    """The first byte picks outcomes and the password (bit 0); then client lines."""
    sessions = {
        "status": b"\x00status\ncurrentsong\n",
        "player": b"\x00play 0\npause\nseek 1 12.5\nseekcur -3\nsetvol 40\nvolume +5\nrandom 1\n",
        "queue": b"\x04add \"dir\"\naddid two.wav +0\ndelete 0:1\nmove 1 0\nmoveid 2 0\nplaylistinfo 0:2\n",
        "database": b"\x00lsinfo\nlistallinfo dir\nfind \"((artist == 'Art') AND (!(title contains 'x')))\" "
                    b"sort -title window 0:1\nsearch any o\nlist album group artist\ncount group artist\n",
        "list_ok": b"\x08command_list_ok_begin\nping\nsetvol 5\nstatus\ncommand_list_end\n",
        "list_error": b"\x00command_list_begin\nping\nnosuch\ncommand_list_end\n",
        "idle": b"\x00idle player mixer\nnoidle\nidle\nstatus\n",
        "password": b"\x01status\npassword wrong\npassword pw\nstatus\noutputs\ntoggleoutput 1\n",
        "quoting": b"\x00add \"a \\\"b\\\" c\"\nfind \"unterminated\nadd x\"y\n3play\n\n",
        "tagtypes": b"\x00tagtypes clear\ntagtypes enable Artist\nplaylistid 2\nclose\nping\n",
    }
    for name, data in sessions.items():
        write("mpd_request", name, data)
# --------------------------------------------------------------------------------- web_message
def web_message_seeds() -> None:
    messages = {
        "pause": '{"id":7,"cmd":"pause"}', "play": '{"cmd":"play","position":3}',
        "play_id": '{"cmd":"play","item_id":12}', "seek": '{"id":"s","cmd":"seek","seconds":42.5}',
        "seek_back": '{"cmd":"seek","seconds":-10,"relative":true}',
        "add_uri": '{"cmd":"add","uri":"albums/a.flac","position":1}', "add_number": '{"cmd":"add","number":4}',
        "delete": '{"cmd":"delete","position":2,"count":2}', "move": '{"cmd":"move","position":3,"to":1}',
        "random": '{"cmd":"random","on":true}', "single": '{"cmd":"single","mode":"oneshot"}',
        "volume": '{"cmd":"volume","room":"kitchen","volume":40}',
        "volume_relative": '{"cmd":"volume","volume":-5,"relative":true}', "mute": '{"cmd":"mute","room":"X"}',
        "library": '{"id":3,"cmd":"library","query":"abba","page":2}', "unknown": '{"cmd":"exit"}',
        "not_json": "pause", "nested": "[[[[[[[[[[]]]]]]]]]]",
    }
    for name, text in messages.items():
        write("web_message", name, text)


# --------------------------------------------------------------------------------- audio_probe
def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_page(serial: int, seq: int, granule: int, flags: int, packet: bytes) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    head = struct.pack("<4sBBqIII", b"OggS", 0, flags, granule, serial, seq, 0) + bytes([len(lacing)] + lacing)
    page = head + packet
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def opus_file() -> bytes:
    """An Ogg Opus stream: OpusHead, OpusTags, one page of (silent) audio; 960 samples after a
    pre-skip of 312."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 6) + b"chorus" + struct.pack("<I", 0)
    audio = bytes([0xF8, 0xFF, 0xFE])  # a 20 ms CELT frame of silence
    return (ogg_page(7, 0, 0, 2, head) + ogg_page(7, 1, 0, 0, tags) +
            ogg_page(7, 2, 312 + 960, 4, audio))


def audio_seeds() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        sox = ["sox", "-D", "-R", "-n"]
        made = {
            "pcm16_48k_stereo.wav": ["-r", "48000", "-c", "2", "-b", "16", "-e", "signed-integer"],
            "pcm8_8k_mono.wav": ["-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer"],
            "float32_44k.wav": ["-r", "44100", "-c", "2", "-b", "32", "-e", "floating-point"],
            "alaw_8k.wav": ["-r", "8000", "-c", "1", "-e", "a-law"],
            "ima_adpcm_22k.wav": ["-r", "22050", "-c", "1", "-e", "ima-adpcm"],
            "ms_adpcm_16k.wav": ["-r", "16000", "-c", "2", "-e", "ms-adpcm"],
            "vorbis_48k.ogg": ["-r", "48000", "-c", "2", "-C", "-1"],
            "mp3_44k.mp3": ["-r", "44100", "-c", "2", "-C", "32"],
            "mp3_22k_mono.mp3": ["-r", "22050", "-c", "1", "-C", "8"],
        }
        for name, fmt in made.items():
            subprocess.run(sox + fmt + [str(t / name), "synth", "0.02", "sine", "440"], check=True)
            write("audio_probe", name, (t / name).read_bytes())
        # A 48 kHz WAVE_FORMAT_EXTENSIBLE file (24-bit, 3 channels).
        subprocess.run(sox + ["-r", "48000", "-c", "3", "-b", "24", "-e", "signed-integer",
                              str(t / "ext.wav"), "synth", "0.005", "sine", "440"], check=True)
        write("audio_probe", "pcm24_extensible.wav", (t / "ext.wav").read_bytes())
        subprocess.run(sox + ["-r", "48000", "-c", "2", "-b", "16", str(t / "src.wav"), "synth", "0.02",
                              "sine", "440"], check=True)
        subprocess.run(["flac", "--silent", "--force", "--best", "--no-padding", "-o", str(t / "a.flac"),
                        str(t / "src.wav")], check=True)
        flac = (t / "a.flac").read_bytes()
        write("audio_probe", "flac_48k.flac", flac)
        # An ID3v2 tag (syncsafe size 16, no footer) before FLAC and before MP3.
        id3 = b"ID3\x04\x00\x00\x00\x00\x00\x10" + b"TIT2\x00\x00\x00\x06\x00\x00\x03seed\x00"
        write("audio_probe", "id3_flac.flac", id3 + flac)
        write("audio_probe", "id3_mp3.mp3", id3 + (CORPUS / "audio_probe" / "mp3_44k.mp3").read_bytes())
    write("audio_probe", "opus_48k.opus", opus_file())


# ------------------------------------------------------------------------------ keyed links


def key_id(key: bytes) -> bytes:
    """ClusterKey::id(): libsodium's crypto_kdf_derive_from_key(16, 0, "chorusID", key), first 8
    bytes; the KDF is keyed BLAKE2b with the subkey id as salt and the context as personal."""
    return hashlib.blake2b(b"", digest_size=16, key=key, salt=(0).to_bytes(8, "little") + bytes(8),
                           person=b"chorusID" + bytes(8)).digest()[:8]


def chunked(*messages: bytes) -> bytes:
    """The handshake target's input: each message preceded by a byte choosing its chunk size."""
    return b"".join(bytes([(len(m) - 1) % 64]) + m for m in messages)


def security_seeds() -> None:
    fuzz_key = bytes(range(32))  # the key the handshake target holds
    hello = b"CHRS\x01\x00\x00\x00" + key_id(fuzz_key) + bytes(range(9, 41))
    write("handshake", "hello_right_key", chunked(hello[:40], hello[40:]))
    write("handshake", "hello_then_proof_guess", chunked(hello[:40], hello[40:], bytes(56)[:40], bytes(16)))
    write("handshake", "hello_other_key", chunked(hello[:8] + bytes(8) + hello[16:40], hello[40:]))
    write("handshake", "hello_version_2", chunked(b"CHRS\x02" + hello[5:40], hello[40:]))
    write("handshake", "plain_frame", chunked(frame(b'{"type":"LEAVE","from":"a"}') + b" " * 20))
    write("handshake", "magic_only", chunked(b"CHRS"))

    write("record_opener", "three_records", b"\x00\x00" + b"".join(
        bytes([len(body) - 1]) + body for body in
        (b'{"type":"LEAVE","from":"a"}', b"x", b'{"type":"HEARTBEAT"}' * 5)))
    write("record_opener", "damaged_length", b"\x01\x02" + bytes([20]) + b"{" * 21)
    write("record_opener", "damaged_tag", b"\x01\x10" + bytes([30]) + b"}" * 31)

    write("key_text", "generated", hashlib.sha256(b"seed").hexdigest() + "\n")
    write("key_text", "upper_spaced", "  " + hashlib.sha256(b"seed").hexdigest().upper() + " \r\n")
    write("key_text", "short", "abc\n")
    write("key_text", "not_hex", "g" * 64)


def mdns_seeds() -> None:
    """The mdns_txt target: address selector, two bytes of port, then TXT entries (length, bytes)."""
    def txt(*entries: bytes) -> bytes:
        return b"".join(bytes([len(e)]) + e for e in entries)
    ours = [b"cluster=chorus", b"version=4", b"id=kitchen", b"priority=0"]
    write("mdns_txt", "member", b"\x00\x1d\xb0" + txt(*ours))
    write("mdns_txt", "keyed_link_local", b"\x81\x1d\xb0" + txt(*ours, b"key=0123456789abcdef"))
    write("mdns_txt", "other_cluster", b"\x00\x1d\xb0" + txt(b"cluster=other", *ours[1:]))
    write("mdns_txt", "missing_id", b"\x00\x1d\xb0" + txt(ours[0], ours[1], ours[3]))
    write("mdns_txt", "port_zero", b"\x40\x00\x01" + txt(*ours))


def content_seeds() -> None:
    """The content fields target: selector byte, two bytes of chunk count, then the text."""
    write("content_fields", "base64", b"\x00\x00\x00" + base64.b64encode(b"chunk bytes"))
    write("content_fields", "bitmap_10", b"\x01\x00\x0a" + base64.b64encode(bytes([0xff, 0x03])))
    write("content_fields", "digests_2", b"\x02\x00\x00" + base64.b64encode(hashlib.sha256(b"a").digest()
                                                                           + hashlib.sha256(b"b").digest()))
    size = 300_000  # two chunks of 256 KiB
    meta = (b"CHORUSPF" + struct.pack("<IIQQ", 1, 262144, size, 2) + hashlib.sha256(b"a").digest()
            + hashlib.sha256(b"b").digest() + bytes([0x01]))
    write("content_fields", "meta_2_chunks", b"\x03" + meta)


def main() -> None:
    examples = json_blocks(ROOT / "docs" / "protocol.md")
    for target in ("codec", "frame_decoder", "command", "audio_probe", "handshake", "record_opener",
                   "key_text", "content_fields", "mpd_request", "web_message", "mdns_txt"):
        shutil.rmtree(CORPUS / target, ignore_errors=True)
    codec_seeds(examples)
    frame_seeds(examples)
    command_seeds()
    web_message_seeds()
    audio_seeds()
    security_seeds()
    content_seeds()
    mdns_seeds()
    mpd_request_seeds()
    for target in sorted(p.name for p in CORPUS.iterdir() if p.is_dir()):
        files = list((CORPUS / target).iterdir())
        print(f"{target}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
