#!/usr/bin/env python3
"""Splits a `perf` profile of one component call into its phases (issue 16, point 2).

    cargo bench -p ledgerlink --bench build_invoice --no-run
    B=$(ls -t target/release/deps/build_invoice-* | grep -v '\\.d$' | head -1)
    $B --bench 'build-invoice/wasm-warm-typed/20$' --profile-time 2   # fills the code cache
    perf record -F 4999 -g -o /tmp/bi.perf $B --bench 'build-invoice/wasm-warm-typed/20$' --profile-time 8
    perf script -i /tmp/bi.perf -F ip,sym | python3 host/benches/profile_split.py

The guest's machine code is symbolised only when wasmtime maps it from its on-disk cache
(`*.cwasm`, an ELF with the guest's function names), hence the first run. Frame pointers
unwind the guest's frames and the host's up to the fiber the call runs on, which is enough:
each sample is put in the first phase (from the root) whose marker its stack holds.
"""

import collections
import sys

# (phase, markers in a guest frame's name), matched from the root of the guest's frames.
GUEST = [
    ("guest: allocations for the lowered arguments (cabi_realloc)", ["cabi_realloc"]),
    ("guest: freeing the result (post-return)", ["cabi_post_"]),
    ("guest: boundary, parsing the input (text to Decimal/NaiveDate)", ["5parse5Parse5input"]),
    ("guest: mapping (build_invoice)", ["7mapping7invoice13build_invoice"]),
    ("guest: freeing the parsed input", ["drop_in_place$LT$ledgerlink_plugin..mapping"]),
    ("guest: boundary, writing the output (Decimal/NaiveDate to text)", ["8boundary7records", "8boundary4text"]),
]
# (phase, markers in a host frame's name), matched from the leaf. The host is built without
# frame pointers, so most host samples carry only their leaf: the markers name leaf functions.
HOST = [
    (
        "host: canonical ABI, lowering and lifting (copies, memory look-ups, realloc calls)",
        ["Lower", "lower_", "LowerContext", "Lift", "lift_", "LiftContext", "WasmStr", "WasmList",
         "options_memory", "runtime_realloc", "StoreComponentInstanceId", "CanonicalAbiInfo",
         "memmove", "memcpy"],
    ),
    (
        "host: the lifted values (UTF-8 checks, allocating and freeing Strings)",
        ["from_utf8", "malloc", "_int_free", "cfree", "unlink_chunk", "String as core::convert::From",
         "drop_in_place<ledgerlink::runtime::bindings"],
    ),
]
OTHER_GUEST = "guest: bindings glue"
OTHER_HOST = "host: call path (entering the guest, trap handling, fiber, tokio, criterion)"


def samples(lines):
    frames = []
    for line in lines:
        line = line.strip()
        if not line:
            if frames:
                yield frames
            frames = []
            continue
        parts = line.split(" ", 1)
        frames.append(parts[1] if len(parts) > 1 else "?")
    if frames:
        yield frames


def phase(frames):
    """`frames` leaf first."""
    guest = [f for f in reversed(frames) if f.startswith("wasm[")]
    if guest:
        # The first marker from the root decides (a free inside the mapping is mapping).
        for f in guest:
            for name, markers in GUEST:
                if any(m in f for m in markers):
                    return name
        return OTHER_GUEST
    if any("_dl_" in f or "dl_main" in f for f in frames):
        return None  # process start-up
    for f in frames:
        for name, markers in HOST:
            if any(m in f for m in markers):
                return name
    return OTHER_HOST


def main():
    counts = collections.Counter()
    for frames in samples(sys.stdin):
        p = phase(frames)
        if p:
            counts[p] += 1
    total = sum(counts.values())
    if total == 0:
        sys.exit("no samples")
    width = max(len(p) for p in counts)
    for p, n in counts.most_common():
        print(f"{p:<{width}}  {n:>7}  {100 * n / total:5.1f} %")
    print(f"{'total':<{width}}  {total:>7}")


if __name__ == "__main__":
    main()
