#!/usr/bin/env bash
# The main demo (`make demo` runs it after building everything).
#
# Act 1: swiftcnn trains LeNet-5 on scikit-learn's real handwritten digits from Python
# (examples/train_digits.py), saves the weights as safetensors, and a C program
# (examples/classify_digits.c) loads that file through libswiftcnn.so and classifies the
# held-out digits: the same accuracy, and a confusion matrix. Then the lecture's own small
# CNN (3x3 convs 1 -> 128 -> 256 -> 512, scaled down to train in seconds) defined in Python
# with swiftcnn.nn, trained, evaluated and saved to ONE model file (examples/lecture_cnn.py),
# which a C program opens by path -- no zoo name, no network code -- and runs on the
# held-out digits (examples/run_model.c): the same predictions. Then the LeNet-5 training on
# five seeded splits next to PyTorch's accuracy for the same model, recipe, data, initial
# weights and batch order (Tests/fixtures/training/digits_torch.json). Before that table,
# pictures of the trained network -- its learned filters, the feature maps of one held-out
# digit and a receptive field -- are written into build/ as PNG (examples/digits_pictures.py).
# Act 2: the lecture's building blocks through the C ABI, as a plugin, and from Python.
# Last: retrieval -- the trained LeNet-5's features put the held-out digits' nearest training
# digits in an index (examples/retrieval_digits.py): five neighbours for a few digits, and
# precision@5 over the held-out split next to raw pixels; then a C program searches the saved
# index with the C-embedded digits (examples/retrieval_search.c): the same neighbours.
#
# SCNN_DEMO_SKIP_TABLE=1 skips the four extra splits of the table. The demo exits non-zero
# when a C program's accuracy or predictions differ from Python's, or (after the rest of the
# demo) when a split of the table is more than 0.5 points below PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/demo
mkdir -p "$out"
py=.venv/bin/python
start=$(date +%s)

banner() { printf '\n==== %s ====\n\n' "$1"; }

banner "Python: train LeNet-5 on scikit-learn's handwritten digits (examples/train_digits.py)"
$py examples/train_digits.py | tee "$out/train_digits.txt"

banner "C: the saved weights classify the held-out digits (examples/classify_digits.c)"
build/examples/classify_digits build/digits_lenet5.safetensors build/digits_test.safetensors | tee "$out/classify_digits.txt"
py_count=$(sed -n 's/^held-out accuracy (Python): .*(\([0-9]*\/[0-9]*\))$/\1/p' "$out/train_digits.txt")
c_count=$(sed -n 's/^accuracy: .*(\([0-9]*\/[0-9]*\))$/\1/p' "$out/classify_digits.txt")
if [ -n "$py_count" ] && [ "$py_count" = "$c_count" ]; then
    printf '\nthe C program reproduces the Python accuracy: %s correct\n' "$c_count"
else
    printf '\nMISMATCH: Python %s correct, C %s correct\n' "${py_count:-?}" "${c_count:-?}" >&2
    exit 1
fi

banner "Python: the lecture's CNN with swiftcnn.nn, trained and saved to one file (examples/lecture_cnn.py)"
$py examples/lecture_cnn.py | tee "$out/lecture_cnn.txt"

banner "C: the model file opened by path and run on the held-out digits (examples/run_model.c)"
build/examples/run_model build/lecture_cnn.safetensors build/lecture_digits_test.safetensors | tee "$out/run_model.txt"
py_count=$(sed -n 's/^held-out accuracy (Python): .*(\([0-9]*\/[0-9]*\))$/\1/p' "$out/lecture_cnn.txt")
c_count=$(sed -n 's/^accuracy: .*(\([0-9]*\/[0-9]*\))$/\1/p' "$out/run_model.txt")
if [ -n "$py_count" ] && [ "$py_count" = "$c_count" ]; then
    printf '\nthe C program, given only the file, reproduces the Python accuracy: %s correct\n' "$c_count"
else
    printf '\nMISMATCH: Python %s correct, C %s correct\n' "${py_count:-?}" "${c_count:-?}" >&2
    exit 1
fi

banner "Python: pictures of what the digits LeNet-5 learned (examples/digits_pictures.py)"
$py examples/digits_pictures.py --out build | tee "$out/digits_pictures.txt"

table_status=0
if [ "${SCNN_DEMO_SKIP_TABLE:-0}" != 1 ]; then
    banner "swiftcnn vs PyTorch: LeNet-5 on five seeded splits of the digits"
    $py examples/train_digits.py --table || table_status=$?
fi
act1=$(( $(date +%s) - start ))

banner "C: the lecture's filters (examples/filters.c)"
build/examples/filters - "$out"
banner "C: shapes, pooling, receptive fields, weight counts (examples/shapes.c)"
build/examples/shapes
banner "C: a zoo model by name, top-5 ImageNet labels (examples/classify.c; seeded weights)"
build/examples/classify resnet18
banner "C: loaded as a plugin with dlopen (examples/plugin.c)"
build/examples/plugin "$PWD/build/lib/libswiftcnn.so"
banner "Python: import swiftcnn (examples/demo.py)"
(cd "$out" && ../../.venv/bin/python ../../examples/demo.py)
banner "Python: retrieval -- the nearest training digits by LeNet-5's features (examples/retrieval_digits.py)"
$py examples/retrieval_digits.py | tee "$out/retrieval_digits.txt"
banner "C: the index saved from Python, searched from C (examples/retrieval_search.c)"
build/examples/retrieval_search
printf '\nfiltered images are in %s/\n' "$out"
printf 'demo time: %d s (digits: LeNet-5, the lecture CNN and the table: %d s)\n' "$(( $(date +%s) - start ))" "$act1"
if [ "$table_status" != 0 ]; then
    printf 'the digits accuracy target vs PyTorch was NOT met (see the table above)\n' >&2
    exit "$table_status"
fi
