#!/usr/bin/env python3
"""Independent generator for the API key golden vectors in vectors.json.

It re-implements the wire format from its specification (see doc.go) with
Python's zlib.crc32 and hashlib, so the Go tests check the Go code against a
second implementation rather than against itself. Run from this directory:

    python3 gen_vectors.py > vectors.json
"""
import hashlib
import json
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PREFIX = "atk_"


def generate(stream):
    """Return (key, consumed bytes) for a byte stream, per the spec."""
    out, used = [], 0
    for v in stream:
        used += 1
        if v < 248:
            out.append(ALPHABET[v % 62])
            if len(out) == 30:
                break
    assert len(out) == 30, "stream too short"
    rnd = "".join(out)
    c = zlib.crc32(rnd.encode()) & 0xFFFFFFFF
    digits = []
    for _ in range(6):
        digits.append(ALPHABET[c % 62])
        c //= 62
    assert c == 0
    return PREFIX + rnd + "".join(reversed(digits)), bytes(stream[:used])


def drbg(label, n=64):
    out, i = b"", 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


streams = [
    ("zeros", bytes(30)),
    ("ascending", bytes(range(30))),
    ("all accepted max", bytes([247] * 30)),
    ("rejections interleaved", bytes(v for i in range(30) for v in (255, 248, i * 8))),
    ("leading rejections", bytes([250] * 40 + list(range(200, 230)))),
]
for i in range(8):
    streams.append((f"drbg {i}", drbg(f"agenttrust apikey vector {i}")))

valid = []
for name, stream in streams:
    key, used = generate(stream)
    valid.append({
        "name": name,
        "random_hex": used.hex(),
        "key": key,
        "sha256": hashlib.sha256(key.encode()).hexdigest(),
        "crc32": zlib.crc32(key[4:34].encode()) & 0xFFFFFFFF,
    })

k = valid[5]["key"]


def sub(s, i, c):
    return s[:i] + c + s[i + 1:]


def bump(c):
    return ALPHABET[(ALPHABET.index(c) + 1) % 62]


invalid = [
    ("empty", "", "malformed"),
    ("prefix only", "atk_", "malformed"),
    ("uppercase prefix", "ATK_" + k[4:], "malformed"),
    ("dash prefix", "atk-" + k[4:], "malformed"),
    ("other prefix", "att_" + k[4:], "malformed"),
    ("no prefix", k[4:], "malformed"),
    ("truncated by one", k[:-1], "malformed"),
    ("extra char", k + "0", "malformed"),
    ("trailing newline", k + "\n", "malformed"),
    ("leading space", " " + k[:-1], "malformed"),
    ("dash in random", sub(k, 10, "-"), "malformed"),
    ("underscore in random", sub(k, 20, "_"), "malformed"),
    ("space in checksum", sub(k, 37, " "), "malformed"),
    ("nul byte", sub(k, 4, "\x00"), "malformed"),
    ("non-ascii same byte length", k[:10] + "\u00e9" + k[12:], "malformed"),
    ("typo in random", sub(k, 4, bump(k[4])), "checksum"),
    ("typo in checksum", sub(k, 39, bump(k[39])), "checksum"),
    ("case flipped", sub(k, 15, k[15].swapcase() if k[15].isalpha() else bump(k[15])), "checksum"),
    ("adjacent transposition", k[:8] + k[9] + k[8] + k[10:] if k[8] != k[9] else sub(k, 8, bump(k[8])), "checksum"),
    ("checksum all z", k[:34] + "zzzzzz", "checksum"),
    ("checksum of other key", k[:34] + valid[6]["key"][34:], "checksum"),
]
print(json.dumps({
    "valid": valid,
    "invalid": [{"name": n, "input": s, "error": e} for n, s, e in invalid],
}, indent=2))
