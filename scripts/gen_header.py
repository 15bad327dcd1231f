#!/usr/bin/env python3
"""Turns the Swift compiler's header for the C ABI into Include/swiftcnn.h.

The compiler writes a header for the `@c` declarations of Sources/SwiftCNNC
(`-emit-clang-header-path`, set in Package.swift). It is meant for clang: it has clang
pragmas, nullability qualifiers, `SWIFT_ENUM` macros and C++/Objective-C sections, so it
does not compile with gcc -Werror -pedantic or g++. This script keeps its declarations
and doc comments and writes a plain C header around them:

- declarations appear in source order (files in FILE_ORDER, then the rest by name),
  grouped under the `// MARK: - Title` sections of the Swift files;
- `SWIFT_ENUM(int32_t, scnn_x, closed)` becomes a C enum whose constants are
  `SCNN_X_CASE_NAME`;
- the opaque handle typedefs come from the PUBLIC part of Sources/CSwiftCNNTypes;
- SCNN_ABI_VERSION comes from `let abiVersion: Int32 = N` in Sources/SwiftCNNC;
- the overview comment at the top comes from scripts/header_preamble.txt.

Usage: gen_header.py RAW_HEADER OUTPUT        (write OUTPUT)
       gen_header.py RAW_HEADER OUTPUT --check (exit 1 when OUTPUT is stale)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ABI_DIR = os.path.join(ROOT, "Sources", "SwiftCNNC")
TYPES_HEADER = os.path.join(ROOT, "Sources", "CSwiftCNNTypes", "include", "cswiftcnn_types.h")
PREAMBLE = os.path.join(ROOT, "scripts", "header_preamble.txt")

# Files whose sections come first, in this order; any other file follows by name.
FILE_ORDER = ["Version.swift", "Status.swift", "TensorAPI.swift", "ConvAPI.swift", "LayersAPI.swift",
              "AnalysisAPI.swift", "ImageAPI.swift", "ModelAPI.swift"]


def fail(msg):
    sys.stderr.write("gen_header: " + msg + "\n")
    sys.exit(2)


def abi_files():
    files = sorted(f for f in os.listdir(ABI_DIR) if f.endswith(".swift"))
    first = [f for f in FILE_ORDER if f in files]
    return first + [f for f in files if f not in first]


def source_layout():
    """[(section title, [exported names])] in source order, plus the ABI version."""
    sections, abi_version = [], None
    current = None
    for name in abi_files():
        with open(os.path.join(ABI_DIR, name), encoding="utf-8") as f:
            for line in f:
                m = re.match(r"\s*// MARK: - (.+?)\s*$", line)
                if m:
                    title = m.group(1)
                    if title.lower().startswith("internal"):
                        current = None
                        continue
                    current = next((s for s in sections if s[0] == title), None)
                    if current is None:
                        current = (title, [])
                        sections.append(current)
                    continue
                m = re.search(r"@c\((\w+)\)", line) or re.search(r"@c\s+public\s+enum\s+(\w+)", line)
                if m:
                    if current is None:
                        fail(f"{name}: @c declaration {m.group(1)} outside a '// MARK: - Title' section")
                    current[1].append(m.group(1))
                m = re.search(r"let abiVersion: Int32 = (\d+)", line)
                if m:
                    abi_version = int(m.group(1))
    if abi_version is None:
        fail("no 'let abiVersion: Int32 = N' in Sources/SwiftCNNC")
    return sections, abi_version


def clean_comment(line):
    line = re.sub(r"</?code>", "`", line)
    for a, b in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'),
                 ("\u2014", "--"), ("\u2013", "-"), ("\u00d7", "x"), ("\u2026", "...")):
        line = line.replace(a, b)
    line = line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return line.rstrip()


def snake_upper(camel):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", camel).upper()


def parse_raw(raw):
    """{name: [lines]} for every declaration in the raw header's extern "C" block."""
    m = re.search(r'extern "C" \{\n#endif\n(.*?)\n#if defined\(__cplusplus\)\n\} // extern "C"', raw, re.S)
    if not m:
        fail("could not find the extern \"C\" block in the compiler's header")
    decls, doc = {}, []
    lines = m.group(1).split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("///"):
            doc.append(clean_comment(line))
        elif line.startswith("typedef SWIFT_ENUM("):
            em = re.match(r"typedef SWIFT_ENUM\((\w+), (\w+), (\w+)\) \{", line)
            if not em:
                fail("unexpected enum line: " + line)
            name = em.group(2)
            body = ["typedef enum %s {" % name]
            i += 1
            while not lines[i].startswith("};"):
                l = lines[i]
                if l.startswith("///"):
                    body.append("  " + clean_comment(l))
                else:
                    cm = re.match(r"\s*" + name + r"(\w+) = (-?\d+),", l)
                    if not cm:
                        fail("unexpected enum case line: " + l)
                    body.append("  %s_%s = %s," % (name.upper(), snake_upper(cm.group(1)), cm.group(2)))
                i += 1
            body.append("} %s;" % name)
            decls[name] = doc + body
            doc = []
        elif line.startswith("SWIFT_EXTERN"):
            fm = re.search(r"\b(scnn_\w+)\(", line)
            if not fm:
                fail("unexpected declaration: " + line)
            d = line
            d = d.replace("SWIFT_EXTERN ", "").replace("SWIFT_ENUM_TAG ", "")
            d = d.replace(" SWIFT_NOEXCEPT", "")
            d = re.sub(r" _Nullable| _Nonnull| _Null_unspecified", "", d)
            d = re.sub(r"\bout_\b", "out", d)
            d = d.replace("* *", "**")
            d = d.replace(" SWIFT_WARN_UNUSED_RESULT", " SCNN_WARN_UNUSED_RESULT")
            decls[fm.group(1)] = doc + [d]
            doc = []
        elif line.strip():
            fail("unexpected line in the compiler's header: " + line)
        else:
            doc = doc if not doc else doc
        i += 1
    return decls


def public_types():
    with open(TYPES_HEADER, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"/\* PUBLIC BEGIN \*/\n(.*?)/\* PUBLIC END \*/", text, re.S)
    if not m:
        fail("no PUBLIC BEGIN/END block in " + TYPES_HEADER)
    return m.group(1).rstrip()


def render(raw_path):
    with open(raw_path, encoding="utf-8") as f:
        raw = f.read()
    decls = parse_raw(raw)
    sections, abi_version = source_layout()
    with open(PREAMBLE, encoding="utf-8") as f:
        preamble = f.read().rstrip()

    out = []
    out.append("/* Include/swiftcnn.h -- GENERATED by scripts/gen_header.py from the Swift sources")
    out.append("   (Sources/SwiftCNNC). Do not edit: change the Swift doc comments and run `make header`. */")
    out.append("#ifndef SWIFTCNN_H")
    out.append("#define SWIFTCNN_H")
    out.append("")
    out.append(preamble)
    out.append("")
    out.append("#include <stddef.h>")
    out.append("#include <stdint.h>")
    out.append("")
    out.append("/** The ABI version this header describes; compare with scnn_abi_version(). */")
    out.append("#define SCNN_ABI_VERSION %d" % abi_version)
    out.append("")
    out.append("#if defined(__GNUC__) || defined(__clang__)")
    out.append("#define SCNN_WARN_UNUSED_RESULT __attribute__((warn_unused_result))")
    out.append("#else")
    out.append("#define SCNN_WARN_UNUSED_RESULT")
    out.append("#endif")
    out.append("")
    out.append("#ifdef __cplusplus")
    out.append('extern "C" {')
    out.append("#endif")
    out.append("")
    out.append("/* ---- Handles ---- */")
    out.append("")
    out.append(public_types())
    seen = set()
    for title, names in sections:
        if not names:
            continue
        out.append("")
        out.append("/* ---- %s ---- */" % title)
        for n in names:
            if n in seen:
                fail("%s exported twice" % n)
            seen.add(n)
            if n not in decls:
                fail("%s is marked @c in the sources but missing from the compiler's header" % n)
            out.append("")
            out.extend(decls[n])
    missing = sorted(set(decls) - seen)
    if missing:
        fail("declared by the compiler but not found in the sources: " + ", ".join(missing))
    out.append("")
    out.append("#ifdef __cplusplus")
    out.append('} /* extern "C" */')
    out.append("#endif")
    out.append("")
    out.append("#endif /* SWIFTCNN_H */")
    return "\n".join(out) + "\n"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        fail("usage: gen_header.py RAW_HEADER OUTPUT [--check]")
    text = render(args[0])
    if "--check" in sys.argv:
        try:
            with open(args[1], encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current != text:
            sys.stderr.write("gen_header: %s is stale; run `make header` and commit it\n" % args[1])
            sys.exit(1)
        print("header check: %s is up to date" % args[1])
        return
    tmp = args[1] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args[1])


if __name__ == "__main__":
    main()
