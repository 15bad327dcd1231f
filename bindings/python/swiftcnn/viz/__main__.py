"""``python -m swiftcnn.viz filters|activations|receptive-field ...``: see swiftcnn.viz.main."""
import sys

from . import main

sys.exit(main())
