/* Declarations only: see include/cswiftcnn_types.h. */
#include "cswiftcnn_types.h"
