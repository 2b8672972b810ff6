/* cblas.h of OpenBLAS also declares openblas_get_config/corename and thread control. */
#include <cblas.h>
