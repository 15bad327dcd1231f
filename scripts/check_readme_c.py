#!/usr/bin/env python3
"""Compiles every ```c block of the README (or the Markdown files given) warning-free, links
it against libswiftcnn and runs the complete programs. Run by `make check-docs`.

Each block is compiled twice, as a user would with plain `cc` (the compiler's default
dialect, gnu17 for gcc 12) and strictly, both with warnings as errors:

    cc -Wall -Wextra -Werror -IInclude ...
    cc -Wall -Wextra -Werror -pedantic -std=c99 -O2 ...

A block with a `main` is a complete program: it is compiled as it is, linked, and run (in a
temporary directory) and must exit with status 0. Any other block is a fragment: it becomes
the body of a function, after <stdio.h>, <stdint.h>, <stdlib.h>, <string.h> and
"swiftcnn.h", and after the declarations it uses, which the README gives in an HTML comment
(invisible on the rendered page) just before the block:

    <!-- check_readme_c context: static scnn_model *model; -->

    python3 scripts/check_readme_c.py [--cc CC] [--include Include] [--lib-dir build/lib] [FILE.md ...]

Prints one line per block and "N passed, N failed"; exit status 0 when all passed.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)\s*$")
CONTEXT = re.compile(r"<!--\s*check_readme_c context:(.*?)-->", re.S)
FRAGMENT_PRELUDE = "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include \"swiftcnn.h\"\n"


def c_blocks(path):
    """(first line number, code, context or None) of each ```c block of a Markdown file."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1).lower(), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if lang == "c":
            # the context comment ends on the line just before the fence
            context = None
            if start > 0 and lines[start - 1].rstrip().endswith("-->"):
                k = start - 1
                while k > 0 and "<!--" not in lines[k]:
                    k -= 1
                cm = CONTEXT.search("\n".join(lines[k:start]))
                context = cm.group(1).strip() if cm else None
            blocks.append((start + 1, "\n".join(lines[start + 1:j]) + "\n", context))
        i = j + 1
    return blocks


def is_program(code):
    return re.search(r"\bint\s+main\s*\(", code) is not None


def source_of(code, context, name):
    if is_program(code):
        return code
    return (FRAGMENT_PRELUDE + "\n" + (context or "") + "\n\n"
            f"void {name}(void);\nvoid {name}(void) {{\n" + code + "}\n\nint main(void) { return 0; }\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", default=["README.md"])
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--include", default="Include")
    ap.add_argument("--lib-dir", default="build/lib")
    args = ap.parse_args()
    include, lib_dir = os.path.abspath(args.include), os.path.abspath(args.lib_dir)
    if not os.path.exists(os.path.join(lib_dir, "libswiftcnn.so")):
        print(f"check_readme_c: no libswiftcnn.so in {lib_dir} (run `make lib`)", file=sys.stderr)
        return 1
    modes = [("plain cc", ["-Wall", "-Wextra", "-Werror"]),
             ("-pedantic -std=c99 -O2", ["-Wall", "-Wextra", "-Werror", "-pedantic", "-std=c99", "-O2"])]
    passed = failed = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for md in args.files:
            for n, (line, code, context) in enumerate(c_blocks(md)):
                total += 1
                where = f"{md}:{line}"
                program = is_program(code)
                src = os.path.join(tmp, f"block{total}.c")
                with open(src, "w", encoding="utf-8") as f:
                    f.write(source_of(code, context, f"readme_block_{n}"))
                errors = []
                exe = os.path.join(tmp, f"block{total}")
                for label, flags in modes:
                    r = subprocess.run([args.cc, *flags, "-I" + include, src, "-o", exe, "-L" + lib_dir, "-lswiftcnn",
                                        "-Wl,-rpath," + lib_dir, "-lm"], capture_output=True, text=True)
                    if r.returncode != 0:
                        errors.append(f"{label}:\n{r.stderr.strip()}")
                ran = ""
                if not errors and program:
                    r = subprocess.run([exe], capture_output=True, text=True, cwd=tmp, timeout=120)
                    if r.returncode != 0:
                        errors.append(f"the program exited with status {r.returncode}:\n{r.stdout}{r.stderr}")
                    else:
                        ran = f" and runs ({r.stdout.strip().splitlines()[-1] if r.stdout.strip() else 'no output'})"
                kind = "program" if program else "fragment"
                if errors:
                    failed += 1
                    print(f"FAIL  {where}: the C {kind}")
                    for e in errors:
                        print("      " + e.replace("\n", "\n      "))
                    if not program and context is None:
                        print("      (a fragment gets its declarations from a `<!-- check_readme_c context: ... -->` "
                              "comment on the line before its ```c fence)")
                else:
                    passed += 1
                    print(f"ok    {where}: the C {kind} compiles warning-free (gnu default, c99 -pedantic){ran}")
    if total == 0:
        print("check_readme_c: no ```c blocks found", file=sys.stderr)
        return 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
